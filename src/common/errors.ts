/**
 * Domain errors. Services throw `GatewayError(ErrorCode.X)`; the one exception filter maps each code to its
 * HTTP status and the OpenAI error envelope `{"error":{"message","type","param","code"}}` in an exhaustive switch.
 */
export enum ErrorCode {
  InvalidRequest = 'invalid_request_error',
  InvalidJson = 'invalid_json',
  UnsupportedParameter = 'unsupported_parameter',
  ContextLengthExceeded = 'context_length_exceeded',
  InvalidApiKey = 'invalid_api_key',
  InvalidCredentials = 'invalid_credentials',
  InsufficientQuota = 'insufficient_quota',
  PermissionDenied = 'permission_denied',
  NotFound = 'not_found',
  ModelNotFound = 'model_not_found',
  Conflict = 'conflict',
  PayloadTooLarge = 'payload_too_large',
  UnsupportedMediaType = 'unsupported_media_type',
  RateLimitExceeded = 'rate_limit_exceeded',
  /** A provider rejected the request as malformed; relayed to the client as a 400. */
  UpstreamBadRequest = 'upstream_bad_request',
  /** Our own provider credentials were refused (provider 401/403): not the client's fault. */
  UpstreamAuth = 'upstream_auth_error',
  /** Every candidate failed. */
  ServiceUnavailable = 'service_unavailable',
  /** A provider failure that is not retryable elsewhere (e.g. a stream that broke after the first byte). */
  UpstreamError = 'upstream_error',
  Internal = 'internal_error',
}

export interface GatewayErrorOptions {
  /** The request field at fault (OpenAI's `param`), e.g. `temperature` or `messages[2].content`. */
  param?: string | null;
  /** Overrides the OpenAI `code` field (e.g. a provider's own code relayed). */
  code?: string | null;
  /** Extra response headers (e.g. `retry-after`). */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly param: string | null;
  readonly codeOverride: string | null | undefined;
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    message?: string,
    options: GatewayErrorOptions = {},
  ) {
    super(message ?? defaultMessage(code), { cause: options.cause });
    this.name = 'GatewayError';
    this.param = options.param ?? null;
    this.codeOverride = options.code;
    this.headers = options.headers ?? {};
  }
}

function defaultMessage(code: ErrorCode): string {
  switch (code) {
    case ErrorCode.InvalidRequest:
      return 'The request is invalid.';
    case ErrorCode.InvalidJson:
      return 'The request body is not valid JSON.';
    case ErrorCode.UnsupportedParameter:
      return 'A parameter is not supported by this model.';
    case ErrorCode.ContextLengthExceeded:
      return "The request exceeds the model's context window.";
    case ErrorCode.InvalidApiKey:
      return 'Incorrect API key provided.';
    case ErrorCode.InvalidCredentials:
      return 'Invalid email or password.';
    case ErrorCode.InsufficientQuota:
      return 'You have run out of credits. Upgrade your plan or wait for the next billing period.';
    case ErrorCode.PermissionDenied:
      return 'You are not allowed to perform this action.';
    case ErrorCode.NotFound:
      return 'Not found.';
    case ErrorCode.ModelNotFound:
      return 'The model does not exist.';
    case ErrorCode.Conflict:
      return 'A conflicting request is in progress.';
    case ErrorCode.PayloadTooLarge:
      return 'The request body is too large.';
    case ErrorCode.UnsupportedMediaType:
      return 'The request content-type must be application/json.';
    case ErrorCode.RateLimitExceeded:
      return 'Rate limit reached for requests.';
    case ErrorCode.UpstreamBadRequest:
      return 'The provider rejected the request.';
    case ErrorCode.UpstreamAuth:
      return 'The gateway could not authenticate with the provider.';
    case ErrorCode.ServiceUnavailable:
      return 'No provider is available for this model right now. Please retry later.';
    case ErrorCode.UpstreamError:
      return 'The provider failed while answering.';
    case ErrorCode.Internal:
      return 'The server had an error while processing your request.';
  }
}

/** The OpenAI error envelope. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}
