import { retryAfterSeconds } from '../wire/http.js';
/**
 * Gemini error body → ProviderFailure (providers.md §3 "Errors" and §6;
 * https://ai.google.dev/gemini-api/docs/troubleshooting, https://ai.google.dev/gemini-api/docs/rate-limits).
 * Body: `{"error":{"code":<http>,"message","status":<google.rpc.Code name>,"details":[google.rpc.* …]}}`.
 *
 * | status / body                                   | kind                                               |
 * |-------------------------------------------------|----------------------------------------------------|
 * | 400 + ErrorInfo reason API_KEY_INVALID          | `auth` (Google answers a bad key with 400)         |
 * | 400 FAILED_PRECONDITION (billing, region)       | `auth` (our account's configuration)               |
 * | 401, 402, 403 PERMISSION_DENIED (missing key)   | `auth`                                             |
 * | 404 NOT_FOUND (model retired)                   | `retryable`                                        |
 * | 0, 408, 409, 429 RESOURCE_EXHAUSTED, 5xx        | `retryable`; wait from RetryInfo.retryDelay ("37s") |
 * | other 4xx                                       | `client`                                           |
 */
import { failureKindForStatus } from '../policy.js';
import type { FailureKind, ProviderFailure } from '../types.js';
import type { GeminiErrorBody } from './native-types.js';

const ERROR_INFO = 'type.googleapis.com/google.rpc.ErrorInfo';
const RETRY_INFO = 'type.googleapis.com/google.rpc.RetryInfo';

export function mapGeminiError(
  status: number,
  bodyText: string,
  headers: Record<string, string>,
): ProviderFailure {
  const error = parseErrorBody(bodyText)?.error;
  const details = Array.isArray(error?.details) ? error.details : [];
  const reason = details.find((d) => d['@type'] === ERROR_INFO)?.reason;
  const rpcStatus = typeof error?.status === 'string' ? error.status : undefined;
  const message =
    typeof error?.message === 'string' && error.message.length > 0
      ? error.message
      : bodyText.trim().slice(0, 500) || `Gemini answered HTTP ${status}.`;

  const failure: ProviderFailure = {
    kind: classify(status, rpcStatus, reason),
    status,
    message,
    type: rpcStatus,
    code: reason ?? null,
    param: null,
  };
  const retryAfter =
    retryDelaySeconds(details.find((d) => d['@type'] === RETRY_INFO)?.retryDelay) ??
    retryAfterSeconds(headers);
  if (retryAfter !== undefined && failure.kind === 'retryable') {
    failure.retryAfterSeconds = retryAfter;
  }
  return failure;
}

function classify(status: number, rpcStatus: string | undefined, reason: string | undefined): FailureKind {
  // Google answers a bad key with 400 (not 401), and an account's billing or region problem with 400 too.
  if (reason === 'API_KEY_INVALID' || (status === 400 && rpcStatus === 'FAILED_PRECONDITION')) {
    return 'auth';
  }
  // 0: no HTTP status (a stream that broke with an error body lacking its code), like a dropped connection.
  return failureKindForStatus(status);
}

function parseErrorBody(text: string): GeminiErrorBody | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    // Some Google front ends wrap the status in a one-element array.
    const candidate: unknown = Array.isArray(parsed) ? parsed[0] : parsed;
    if (typeof candidate === 'object' && candidate !== null && 'error' in candidate) {
      const error = (candidate as { error: unknown }).error;
      if (typeof error === 'object' && error !== null) {
        return candidate as GeminiErrorBody;
      }
    }
  } catch {
    // not JSON (an HTML page from a proxy, an empty body): the raw text becomes the message
  }
  return undefined;
}

/** google.protobuf.Duration in JSON: "37s", "0.5s", "1.000340s". Rounded up: never retry early. */
function retryDelaySeconds(delay: unknown): number | undefined {
  if (typeof delay !== 'string') {
    return undefined;
  }
  const match = /^(\d+(?:\.\d+)?)s$/.exec(delay.trim());
  return match ? Math.ceil(Number(match[1])) : undefined;
}

/** The JSON error body Google writes after the last SSE frame of a failing stream, if `text` is one. */
export function streamTrailerError(text: string): { status: number } | undefined {
  const error = parseErrorBody(text)?.error;
  if (!error) {
    return undefined;
  }
  return { status: typeof error.code === 'number' ? error.code : 0 };
}
