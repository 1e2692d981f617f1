import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toErrorResponse } from './error-response.js';

/** Every error → the OpenAI envelope with its status; 5xx are logged with the request id (never the body). */
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
  const response = toErrorResponse(exception, request.id);
  if (response.status >= 500) {
    logger.error(
      { requestId: request.id, route: request.routeOptions?.url, err: describe(exception) },
      'request failed',
    );
  }
  if (reply.sent || reply.raw.headersSent) {
    return;
  }
  void reply.status(response.status).headers(response.headers).type('application/json').send(response.body);
}

/** What is safe to log about an error: its class, message and stack — never the request. */
function describe(exception: unknown): Record<string, unknown> {
  if (exception instanceof Error) {
    return { type: exception.name, message: exception.message, stack: exception.stack };
  }
  return { type: typeof exception };
}
