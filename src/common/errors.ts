/**
 * Domain errors. Services throw `GatewayError(ErrorCode.X)`; the one exception filter answers each code with the
 * HTTP status and OpenAI error envelope `{"error":{"message","type","param","code"}}` of its row in `ERROR_SHAPES`.
 */
export enum ErrorCode {
  InvalidRequest = 'invalid_request_error',
  InvalidJson = 'invalid_json',
  UnsupportedParameter = 'unsupported_parameter',
  ContextLengthExceeded = 'context_length_exceeded',
  InvalidApiKey = 'invalid_api_key',
  InvalidCredentials = 'invalid_credentials',
  InsufficientQuota = 'insufficient_quota',
  /** The subscription's payment failed and the grace period is over. */
  PaymentOverdue = 'payment_overdue',
  /** The key spent its `credit_limit` for this billing period (the account's other keys keep working). */
  KeyCreditLimit = 'key_credit_limit',
  /** The key's `allowed_models` does not include a model the request could be served by. */
  ModelNotAllowed = 'model_not_allowed',
  PermissionDenied = 'permission_denied',
  NotFound = 'not_found',
  ModelNotFound = 'model_not_found',
  Conflict = 'conflict',
  /** The client did not send its whole request (headers or body) in time. */
  RequestTimeout = 'request_timeout',
  PayloadTooLarge = 'payload_too_large',
  /** The request's headers are larger than the HTTP server's limit. */
  HeaderFieldsTooLarge = 'request_header_fields_too_large',
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
  /** Every candidate timed out (a hung provider and nothing to fail over to). */
  UpstreamTimeout = 'upstream_timeout',
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
    super(message ?? ERROR_SHAPES[code].message, { cause: options.cause });
    this.name = 'GatewayError';
    this.param = options.param ?? null;
    this.codeOverride = options.code;
    this.headers = options.headers ?? {};
  }
}

/** How one error code answers: HTTP status, OpenAI `type` and `code`, and the message when none is given. */
export interface ErrorShape {
  status: number;
  type: string;
  code: string | null;
  message: string;
}

/**
 * Every error code → its answer, in one table. It is a `Record<ErrorCode, …>`: a new code without a row does not
 * compile. The OpenAI types and codes follow the error list of providers.md §0 (`rate_limit_exceeded` is type
 * `requests`, an empty balance is `insufficient_quota`, 5xx are `server_error`/`service_unavailable_error`).
 */
export const ERROR_SHAPES: Readonly<Record<ErrorCode, ErrorShape>> = {
  [ErrorCode.InvalidRequest]: {
    status: 400,
    type: 'invalid_request_error',
    code: null,
    message: 'The request is invalid.',
  },
  [ErrorCode.InvalidJson]: {
    status: 400,
    type: 'invalid_request_error',
    code: 'invalid_json',
    message: 'The request body is not valid JSON.',
  },
  [ErrorCode.UnsupportedParameter]: {
    status: 400,
    type: 'invalid_request_error',
    code: 'unsupported_parameter',
    message: 'A parameter is not supported by this model.',
  },
  [ErrorCode.ContextLengthExceeded]: {
    status: 400,
    type: 'invalid_request_error',
    code: 'context_length_exceeded',
    message: "The request exceeds the model's context window.",
  },
  [ErrorCode.UpstreamBadRequest]: {
    status: 400,
    type: 'invalid_request_error',
    code: null,
    message: 'The provider rejected the request.',
  },
  [ErrorCode.InvalidApiKey]: {
    status: 401,
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    message: 'Incorrect API key provided.',
  },
  [ErrorCode.InvalidCredentials]: {
    status: 401,
    type: 'invalid_request_error',
    code: 'invalid_credentials',
    message: 'Invalid email or password.',
  },
  [ErrorCode.InsufficientQuota]: {
    status: 402,
    type: 'insufficient_quota',
    code: 'insufficient_quota',
    message: 'You have run out of credits. Upgrade your plan or wait for the next billing period.',
  },
  [ErrorCode.PaymentOverdue]: {
    status: 402,
    type: 'insufficient_quota',
    code: 'payment_overdue',
    message: 'Your subscription payment is overdue. Update your payment method to continue.',
  },
  [ErrorCode.KeyCreditLimit]: {
    status: 402,
    type: 'insufficient_quota',
    code: 'key_credit_limit',
    message: 'This API key has reached its credit limit for the billing period.',
  },
  [ErrorCode.ModelNotAllowed]: {
    status: 403,
    type: 'invalid_request_error',
    code: 'model_not_allowed',
    message: 'This API key is not allowed to use this model.',
  },
  [ErrorCode.PermissionDenied]: {
    status: 403,
    type: 'invalid_request_error',
    code: 'permission_denied',
    message: 'You are not allowed to perform this action.',
  },
  [ErrorCode.NotFound]: {
    status: 404,
    type: 'invalid_request_error',
    code: 'not_found',
    message: 'Not found.',
  },
  [ErrorCode.ModelNotFound]: {
    status: 404,
    type: 'invalid_request_error',
    code: 'model_not_found',
    message: 'The model does not exist.',
  },
  [ErrorCode.Conflict]: {
    status: 409,
    type: 'invalid_request_error',
    code: 'conflict',
    message: 'A conflicting request is in progress.',
  },
  [ErrorCode.RequestTimeout]: {
    status: 408,
    type: 'invalid_request_error',
    code: 'request_timeout',
    message: 'The request was not received in time.',
  },
  [ErrorCode.PayloadTooLarge]: {
    status: 413,
    type: 'invalid_request_error',
    code: 'payload_too_large',
    message: 'The request body is too large.',
  },
  [ErrorCode.HeaderFieldsTooLarge]: {
    status: 431,
    type: 'invalid_request_error',
    code: 'request_header_fields_too_large',
    message: 'The request headers are too large.',
  },
  [ErrorCode.UnsupportedMediaType]: {
    status: 415,
    type: 'invalid_request_error',
    code: 'unsupported_media_type',
    message: 'The request content-type must be application/json.',
  },
  [ErrorCode.RateLimitExceeded]: {
    status: 429,
    type: 'requests',
    code: 'rate_limit_exceeded',
    message: 'Rate limit reached for requests.',
  },
  [ErrorCode.Internal]: {
    status: 500,
    type: 'server_error',
    code: 'internal_error',
    message: 'The server had an error while processing your request.',
  },
  [ErrorCode.UpstreamAuth]: {
    status: 502,
    type: 'server_error',
    code: 'upstream_auth_error',
    message: 'The gateway could not authenticate with the provider.',
  },
  [ErrorCode.UpstreamError]: {
    status: 502,
    type: 'server_error',
    code: 'upstream_error',
    message: 'The provider failed while answering.',
  },
  [ErrorCode.UpstreamTimeout]: {
    status: 504,
    type: 'server_error',
    code: 'upstream_timeout',
    message: 'The provider did not answer in time.',
  },
  [ErrorCode.ServiceUnavailable]: {
    status: 503,
    type: 'service_unavailable_error',
    code: 'service_unavailable',
    message: 'No provider is available for this model right now. Please retry later.',
  },
};

/** The OpenAI error envelope. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}
