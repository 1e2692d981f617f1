import type { Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, GatewayError } from './errors.js';
import { sendError } from './exception.filter.js';

function harness(socket: { destroyed: boolean } = { destroyed: false }) {
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
  // Once its body is read, a request's stream is destroyed while its client still waits on the socket.
  const request = {
    id: 'req_1',
    routeOptions: { url: '/v1/chat/completions' },
    raw: { destroyed: true, socket },
  };
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

describe('a connection reset', () => {
  const reset = (message: string) => Object.assign(new Error(message), { code: 'ECONNRESET' });

  it("of the database's connection while the client waits is a 503 service_unavailable, not silence", () => {
    const { sent, send } = harness({ destroyed: false });
    send(reset('read ECONNRESET'));
    expect(sent.status).toBe(503);
    expect(sent.body).toMatchObject({ error: { code: 'service_unavailable' } });
  });

  it("of the client's own connection (it left while sending its body) answers nothing and logs nothing", () => {
    const { logger, sent, send } = harness({ destroyed: true });
    send(reset('aborted'));
    expect(sent.status).toBeUndefined();
    expect(logger.warn).not.toHaveBeenCalled();
    expect(logger.error).not.toHaveBeenCalled();
  });
});
