import { retryAfterSeconds } from '../wire/http.js';
/**
 * Anthropic error answers → ProviderFailure (providers.md §2 "Errors"; https://docs.anthropic.com/en/api/errors).
 *
 * | status | error.type            | kind                                                         |
 * |--------|-----------------------|--------------------------------------------------------------|
 * | 400    | invalid_request_error | client                                                       |
 * | 401    | authentication_error  | auth                                                         |
 * | 402    | billing_error         | auth (our account)                                           |
 * | 403    | permission_error      | auth                                                         |
 * | 404    | not_found_error       | retryable (model retired at the provider: try the next)      |
 * | 413    | request_too_large     | client (sent by Cloudflare, may not be JSON)                 |
 * | 429    | rate_limit_error      | retryable; `enforced_spend_limit_reached` → auth (our limit) |
 * | 500    | api_error             | retryable                                                    |
 * | 504    | timeout_error         | retryable                                                    |
 * | 529    | overloaded_error      | retryable                                                    |
 */
import { failureKindForStatus } from '../policy.js';
import type { FailureKind, ProviderFailure } from '../types.js';
import type { AnthropicErrorBody } from './native-types.js';

/** The status each native error type stands for, used for errors that arrive inside a 200 stream. */
const STATUS_BY_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

const SPEND_LIMIT = 'enforced_spend_limit_reached';

function kindFor(status: number, errorCode: string | undefined): FailureKind {
  if (status === 429 && errorCode === SPEND_LIMIT) {
    // Our organisation's spend cap: no retry-after will fix it, and it is not the client's fault.
    return 'auth';
  }
  return failureKindForStatus(status);
}

function parseErrorBody(text: string): AnthropicErrorBody['error'] | undefined {
  try {
    const body = JSON.parse(text) as Partial<AnthropicErrorBody> | null;
    const error = body?.error;
    if (error && typeof error === 'object' && typeof error.message === 'string') {
      return error;
    }
  } catch {
    // Not JSON (e.g. Cloudflare's HTML 413 page).
  }
  return undefined;
}

export function failureFromError(
  status: number,
  error: AnthropicErrorBody['error'] | undefined,
  fallbackText: string,
  retryAfterSeconds?: number,
): ProviderFailure {
  const errorCode = error?.details?.error_code ?? undefined;
  const message =
    error?.message ?? (fallbackText.trim().slice(0, 200) || `Anthropic returned HTTP ${status}.`);
  const failure: ProviderFailure = {
    kind: kindFor(status, errorCode),
    status,
    message,
    type: error?.type,
    code: errorCode ?? null,
    param: null,
  };
  if (status === 400 && /prompt is too long/i.test(message)) {
    failure.code = 'context_length_exceeded';
    failure.param = 'messages';
  }
  if (failure.kind === 'retryable' && retryAfterSeconds !== undefined) {
    failure.retryAfterSeconds = retryAfterSeconds;
  }
  return failure;
}

export function mapAnthropicError(
  status: number,
  bodyText: string,
  headers: Record<string, string>,
): ProviderFailure {
  const error = parseErrorBody(bodyText);
  const fallback = error ? '' : `Anthropic returned HTTP ${status}: ${bodyText}`;
  return failureFromError(status, error, fallback, retryAfterSeconds(headers));
}

/** An `event: error` inside a 200 stream carries no status: take the one its type stands for. */
export function failureFromStreamError(data: unknown): ProviderFailure {
  const error = (data as Partial<AnthropicErrorBody> | null)?.error;
  const type = typeof error?.type === 'string' ? error.type : 'api_error';
  return failureFromError(
    STATUS_BY_TYPE[type] ?? 500,
    error && typeof error.message === 'string' ? error : { type, message: 'Anthropic stream error.' },
    '',
  );
}
