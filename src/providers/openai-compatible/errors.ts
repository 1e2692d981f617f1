import { retryAfterSeconds } from '../wire/http.js';
import { failureKindForStatus } from '../policy.js';
import type { FailureKind, ProviderFailure } from '../types.js';
import type { OpenAiCompatibleOptions } from './options.js';
import { isRecord } from './response.js';

/**
 * Error answers of the family → `ProviderFailure`.
 *
 * | body                                                    | who                     | source |
 * |---------------------------------------------------------|-------------------------|--------|
 * | `{"error":{"message","type","param","code"}}`           | OpenAI, Groq            | §0, §5 |
 * | `{"message","type","param","code"}` (flat, no envelope) | Cerebras                | §4 |
 * | anything else (HTML from a proxy, empty)                | any                     | the text itself |
 *
 * | status                                         | kind        |
 * |------------------------------------------------|-------------|
 * | 401, 403, 402; 429 `insufficient_quota`         | `auth` (our key or our account) |
 * | 404 (model retired), 408, 409, 429, 5xx, `retryableStatuses` (Groq 498) | `retryable` |
 * | other 4xx (400, 413, 422, …)                    | `client`    |
 */
export function mapError(
  options: OpenAiCompatibleOptions,
  status: number,
  bodyText: string,
  headers: Record<string, string>,
): ProviderFailure {
  const error = errorObject(parseJson(bodyText));
  const failure: ProviderFailure = {
    kind: 'client',
    status,
    message: error?.message ?? (bodyText.trim().slice(0, 500) || `HTTP ${status}`),
    type: error?.type,
    code: error?.code ?? null,
    param: error?.param ?? null,
  };
  failure.kind = kindForStatus(options, status, failure.code ?? null);
  const retryAfter = retryAfterSeconds(headers);
  if (retryAfter !== undefined) {
    failure.retryAfterSeconds = retryAfter;
  }
  return failure;
}

/**
 * A `data: {"error":{…}}` frame inside a 200 stream. It has no HTTP status of its own (status 0): its kind
 * comes from a status the body may carry, else from its type.
 */
export function mapStreamError(
  options: OpenAiCompatibleOptions,
  error: NativeError & { status?: number },
): ProviderFailure {
  const status = error.status ?? 0;
  const kind: FailureKind =
    status > 0 ? kindForStatus(options, status, error.code ?? null) : kindForType(error);
  return {
    kind,
    status,
    message: error.message ?? 'The provider reported an error in the stream.',
    type: error.type,
    code: error.code ?? null,
    param: error.param ?? null,
  };
}

export interface NativeError {
  message?: string;
  type?: string;
  code?: string | null;
  param?: string | null;
  status?: number;
}

/** The error object of an envelope (`{"error":{…}}`) or of a flat body (`{"message","type",…}`). */
export function errorObject(value: unknown): NativeError | undefined {
  if (!isRecord(value)) {
    return undefined;
  }
  if (typeof value.error === 'string') {
    return { message: value.error };
  }
  const source = isRecord(value.error) ? value.error : value;
  if (typeof source.message !== 'string' && typeof source.type !== 'string') {
    return undefined;
  }
  const status = source.status_code ?? source.status;
  return {
    message: typeof source.message === 'string' ? source.message : undefined,
    type: typeof source.type === 'string' ? source.type : undefined,
    code: stringOrNull(source.code),
    param: stringOrNull(source.param),
    status: typeof status === 'number' ? status : undefined,
  };
}

function kindForStatus(options: OpenAiCompatibleOptions, status: number, code: string | null): FailureKind {
  // OpenAI says 429 insufficient_quota when our account has no credit left: waiting does not help.
  if (code === 'insufficient_quota') {
    return 'auth';
  }
  return failureKindForStatus(status, options.retryableStatuses);
}

function kindForType(error: NativeError): FailureKind {
  if (error.code === 'invalid_api_key' || error.type === 'authentication_error') {
    return 'auth';
  }
  if (error.type === 'invalid_request_error') {
    return 'client';
  }
  // server_error, overloaded, capacity, rate limits: another candidate may still serve the request.
  return 'retryable';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function stringOrNull(value: unknown): string | null {
  if (typeof value === 'string') {
    return value;
  }
  return typeof value === 'number' ? String(value) : null;
}

export { retryAfterSeconds };
