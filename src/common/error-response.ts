import { HttpException } from '@nestjs/common';
import { isUnreachable } from './unreachable.js';
import { ERROR_SHAPES, ErrorCode, GatewayError, type OpenAiErrorBody } from './errors.js';

export interface ErrorResponse {
  /** The domain code the answer was built from (what the logging decides on). */
  code: ErrorCode;
  status: number;
  body: OpenAiErrorBody;
  headers: Record<string, string>;
}

/** Fastify's own errors (raised before a route handler runs) by their code. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: ErrorCode.InvalidJson,
  FST_ERR_CTP_EMPTY_JSON_BODY: ErrorCode.InvalidJson,
  FST_ERR_CTP_BODY_TOO_LARGE: ErrorCode.PayloadTooLarge,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ErrorCode.UnsupportedMediaType,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ErrorCode.InvalidRequest,
  FST_ERR_CTP_INVALID_TYPE: ErrorCode.UnsupportedMediaType,
  FST_ERR_BAD_URL: ErrorCode.InvalidRequest,
};

function statusToCode(status: number): ErrorCode {
  switch (status) {
    case 400:
      return ErrorCode.InvalidRequest;
    case 401:
      return ErrorCode.InvalidApiKey;
    case 402:
      return ErrorCode.InsufficientQuota;
    case 403:
      return ErrorCode.PermissionDenied;
    case 404:
      return ErrorCode.NotFound;
    case 409:
      return ErrorCode.Conflict;
    case 413:
      return ErrorCode.PayloadTooLarge;
    case 415:
      return ErrorCode.UnsupportedMediaType;
    case 429:
      return ErrorCode.RateLimitExceeded;
    case 503:
      return ErrorCode.ServiceUnavailable;
    default:
      return status >= 500 ? ErrorCode.Internal : ErrorCode.InvalidRequest;
  }
}

/**
 * Turns anything thrown into the OpenAI error envelope. A 5xx never shows internals: its message names the
 * request id so support can find the log line.
 */
export function toErrorResponse(exception: unknown, requestId: string): ErrorResponse {
  let code: ErrorCode;
  let message: string | undefined;
  let param: string | null = null;
  let codeOverride: string | null | undefined;
  let headers: Record<string, string> = {};

  if (exception instanceof GatewayError) {
    code = exception.code;
    message = exception.message;
    param = exception.param;
    codeOverride = exception.codeOverride;
    headers = exception.headers;
  } else if (exception instanceof HttpException) {
    code = statusToCode(exception.getStatus());
    const response = exception.getResponse();
    const raw = typeof response === 'string' ? response : (response as { message?: unknown }).message;
    message = Array.isArray(raw) ? raw.join('; ') : typeof raw === 'string' ? raw : undefined;
  } else if (isFastifyError(exception)) {
    code = FASTIFY_CODES[exception.code] ?? statusToCode(exception.statusCode ?? 500);
    message = exception.statusCode && exception.statusCode < 500 ? exception.message : undefined;
  } else if (isUnreachable(exception)) {
    // The database (or Redis) is restarting or out of reach: a passing outage, not a bug.
    code = ErrorCode.ServiceUnavailable;
    message = 'The service is briefly unable to reach its database. Please retry shortly.';
    headers = { 'retry-after': '2' };
  } else {
    code = ErrorCode.Internal;
  }

  const shape = ERROR_SHAPES[code];
  if (code === ErrorCode.Internal) {
    message = undefined;
  }
  const text = message ?? shape.message;
  return {
    code,
    status: shape.status,
    headers,
    body: {
      error: {
        message: shape.status >= 500 ? `${text} (request id ${requestId})` : text,
        type: shape.type,
        param,
        code: codeOverride === undefined ? shape.code : codeOverride,
      },
    },
  };
}

function isFastifyError(e: unknown): e is { code: string; statusCode?: number; message: string } {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { code?: unknown }).code === 'string' &&
    (e as { code: string }).code.startsWith('FST_')
  );
}
