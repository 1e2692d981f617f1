import type { Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, GatewayError } from './errors.js';
import { sendError } from './exception.filter.js';

function harness() {
  const logger = { error: vi.fn(), warn: vi.fn() };
  const sent: { status?: number; body?: unknown } = {};
  const reply = {
    sent: false,
    raw: { headersSent: false },
    status(code: number) {
      sent.status = code;
      return this;
    },
    headers() {
      return this;
    },
    type() {
      return this;
    },
    send(body: unknown) {
      sent.body = body;
    },
  };
  const request = { id: 'req_1', routeOptions: { url: '/v1/chat/completions' } };
  const send = (exception: unknown) =>
    sendError(
      reply as unknown as FastifyReply,
      request as unknown as FastifyRequest,
      exception,
      logger as unknown as Logger,
    );
  return { logger, sent, send };
}

describe('sendError logging', () => {
  it.each([
    [ErrorCode.ServiceUnavailable, 503],
    [ErrorCode.UpstreamAuth, 502],
    [ErrorCode.UpstreamError, 502],
  ])('logs an expected %s (%i) as a warning without a stack', (code, status) => {
    const { logger, sent, send } = harness();
    send(new GatewayError(code));
    expect(sent.status).toBe(status);
    expect(logger.error).not.toHaveBeenCalled();
    expect(logger.warn).toHaveBeenCalledTimes(1);
    const [fields] = logger.warn.mock.calls[0] as [Record<string, any>];
    expect(fields).toMatchObject({ requestId: 'req_1', status, err: { type: 'GatewayError' } });
    expect(fields.err).not.toHaveProperty('stack');
  });

  it('logs an unexpected failure as an error with its stack', () => {
    const { logger, sent, send } = harness();
    send(new TypeError('boom'));
    expect(sent.status).toBe(500);
    expect(logger.warn).not.toHaveBeenCalled();
    const [fields] = logger.error.mock.calls[0] as [Record<string, any>];
    expect(fields).toMatchObject({
      requestId: 'req_1',
      status: 500,
      err: { type: 'TypeError', message: 'boom' },
    });
    expect(fields.err.stack).toContain('boom');
  });

  it('does not log client errors', () => {
    const { logger, sent, send } = harness();
    send(new GatewayError(ErrorCode.ModelNotFound));
    expect(sent.status).toBe(404);
    expect(logger.error).not.toHaveBeenCalled();
    expect(logger.warn).not.toHaveBeenCalled();
  });
});
