import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toErrorResponse } from './error-response.js';
import { ErrorCode } from './errors.js';

/**
 * Every error → the OpenAI envelope with its status; 5xx are logged with the request id (never the body). An
 * unexpected failure (500 `internal_error`: a bug, a database gone) is an `error` with its stack; a 5xx the gateway
 * answers by design (502 upstream auth or upstream error, 503 no provider available) is a `warn` without one: its
 * stack only ever points at the code that decided to answer it.
 */
@Catch()
export class OpenAiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    sendError(reply, request, exception, this.logger);
  }
}

export function sendError(
  reply: FastifyReply,
  request: FastifyRequest,
  exception: unknown,
  logger: Logger,
): void {
  if (clientLeft(request, exception)) {
    // The connection closed while the body was being read (the client left, or was cut for being too slow):
    // nothing failed here and nobody is left to answer. The request's http line says what became of it.
    return;
  }
  const response = toErrorResponse(exception, request.id);
  if (response.status >= 500) {
    const context = { requestId: request.id, route: request.routeOptions?.url, status: response.status };
    if (response.code === ErrorCode.Internal) {
      logger.error({ ...context, err: describe(exception, true) }, 'request failed');
    } else {
      logger.warn({ ...context, err: describe(exception, false) }, 'request failed');
    }
  }
  if (reply.sent || reply.raw.headersSent) {
    return;
  }
  void reply.status(response.status).headers(response.headers).type('application/json').send(response.body);
}

/**
 * Node's error for a request whose connection closed before its body was read (`ECONNRESET`, "aborted"): the
 * client's socket is gone. Any other `ECONNRESET` (the database's or Redis's connection reset while the client
 * waits) is answered like every other error. A request's own stream is destroyed once its body has been read, so
 * only the socket tells whether the client is still there.
 */
function clientLeft(request: FastifyRequest, exception: unknown): boolean {
  return (
    exception instanceof Error &&
    (exception as Error & { code?: unknown }).code === 'ECONNRESET' &&
    request.raw.socket?.destroyed !== false
  );
}

/** What is safe to log about an error: its class, message and (when asked) stack — never the request. */
function describe(exception: unknown, withStack: boolean): Record<string, unknown> {
  if (exception instanceof Error) {
    return {
      type: exception.name,
      message: exception.message,
      ...(withStack ? { stack: exception.stack } : {}),
    };
  }
  return { type: typeof exception };
}
