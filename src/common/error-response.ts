import { HttpException } from '@nestjs/common';
import { ErrorCode, GatewayError, type OpenAiErrorBody } from './errors.js';

export interface ErrorResponse {
  status: number;
  body: OpenAiErrorBody;
  headers: Record<string, string>;
}

interface Shape {
  status: number;
  type: string;
  code: string | null;
}

/** Every error code → its HTTP status and OpenAI `type`/`code`, in one exhaustive switch. */
function shapeOf(code: ErrorCode): Shape {
  switch (code) {
    case ErrorCode.InvalidRequest:
      return { status: 400, type: 'invalid_request_error', code: null };
    case ErrorCode.InvalidJson:
      return { status: 400, type: 'invalid_request_error', code: 'invalid_json' };
    case ErrorCode.UnsupportedParameter:
      return { status: 400, type: 'invalid_request_error', code: 'unsupported_parameter' };
    case ErrorCode.ContextLengthExceeded:
      return { status: 400, type: 'invalid_request_error', code: 'context_length_exceeded' };
    case ErrorCode.UpstreamBadRequest:
      return { status: 400, type: 'invalid_request_error', code: null };
    case ErrorCode.InvalidApiKey:
      return { status: 401, type: 'invalid_request_error', code: 'invalid_api_key' };
    case ErrorCode.InvalidCredentials:
      return { status: 401, type: 'invalid_request_error', code: 'invalid_credentials' };
    case ErrorCode.InsufficientQuota:
      return { status: 402, type: 'insufficient_quota', code: 'insufficient_quota' };
    case ErrorCode.PermissionDenied:
      return { status: 403, type: 'invalid_request_error', code: 'permission_denied' };
    case ErrorCode.NotFound:
      return { status: 404, type: 'invalid_request_error', code: 'not_found' };
    case ErrorCode.ModelNotFound:
      return { status: 404, type: 'invalid_request_error', code: 'model_not_found' };
    case ErrorCode.Conflict:
      return { status: 409, type: 'invalid_request_error', code: 'conflict' };
    case ErrorCode.PayloadTooLarge:
      return { status: 413, type: 'invalid_request_error', code: 'payload_too_large' };
    case ErrorCode.UnsupportedMediaType:
      return { status: 415, type: 'invalid_request_error', code: 'unsupported_media_type' };
    case ErrorCode.RateLimitExceeded:
      return { status: 429, type: 'requests', code: 'rate_limit_exceeded' };
    case ErrorCode.Internal:
      return { status: 500, type: 'server_error', code: 'internal_error' };
    case ErrorCode.UpstreamAuth:
      return { status: 502, type: 'server_error', code: 'upstream_auth_error' };
    case ErrorCode.UpstreamError:
      return { status: 502, type: 'server_error', code: 'upstream_error' };
    case ErrorCode.ServiceUnavailable:
      return { status: 503, type: 'service_unavailable_error', code: 'service_unavailable' };
  }
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
  } else {
    code = ErrorCode.Internal;
  }

  const shape = shapeOf(code);
  if (shape.status >= 500 && code === ErrorCode.Internal) {
    message = undefined;
  }
  const text = message ?? new GatewayError(code).message;
  return {
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
