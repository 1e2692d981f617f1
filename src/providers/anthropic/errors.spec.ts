import { describe, expect, it } from 'vitest';
import { anthropicAdapter } from './anthropic.adapter.js';

function body(type: string, message: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    type: 'error',
    error: { type, message, ...extra },
    request_id: 'req_011CSHoEeqs5C35K2UUqR7Fy',
  });
}

describe('anthropic mapError', () => {
  it('maps a 400 to a client failure with the native type and message', () => {
    const failure = anthropicAdapter.mapError(
      400,
      body('invalid_request_error', 'max_tokens: Field required'),
      {},
    );
    expect(failure).toEqual({
      kind: 'client',
      status: 400,
      message: 'max_tokens: Field required',
      type: 'invalid_request_error',
      code: null,
      param: null,
    });
  });

  it('recognises a prompt that is too long', () => {
    const failure = anthropicAdapter.mapError(
      400,
      body('invalid_request_error', 'prompt is too long: 1000447 tokens > 1000000 maximum'),
      {},
    );
    expect(failure.kind).toBe('client');
    expect(failure.code).toBe('context_length_exceeded');
    expect(failure.param).toBe('messages');
  });

  it.each([
    [401, 'authentication_error'],
    [402, 'billing_error'],
    [403, 'permission_error'],
  ])('maps %i %s to auth', (status, type) => {
    expect(anthropicAdapter.mapError(status, body(type, 'no'), {}).kind).toBe('auth');
  });

  it('maps 429 with retry-after to retryable with the wait', () => {
    const failure = anthropicAdapter.mapError(
      429,
      body('rate_limit_error', 'Number of request tokens has exceeded'),
      {
        'retry-after': '17',
      },
    );
    expect(failure).toMatchObject({
      kind: 'retryable',
      status: 429,
      type: 'rate_limit_error',
      retryAfterSeconds: 17,
    });
  });

  it('maps the spend-limit 429 to auth (our account), without a retry hint', () => {
    const failure = anthropicAdapter.mapError(
      429,
      body('rate_limit_error', 'You have reached your specified API usage limits.', {
        details: { error_code: 'enforced_spend_limit_reached' },
      }),
      { 'retry-after': '30' },
    );
    expect(failure.kind).toBe('auth');
    expect(failure.code).toBe('enforced_spend_limit_reached');
    expect(failure.retryAfterSeconds).toBeUndefined();
  });

  it.each([
    [529, 'overloaded_error'],
    [500, 'api_error'],
    [504, 'timeout_error'],
    [404, 'not_found_error'],
    [408, 'timeout_error'],
    [409, 'invalid_request_error'],
  ])('maps %i %s to retryable', (status, type) => {
    const failure = anthropicAdapter.mapError(status, body(type, 'x'), {});
    expect(failure.kind).toBe('retryable');
    expect(failure.type).toBe(type);
  });

  it('reads an HTTP-date retry-after', () => {
    const date = new Date(Date.now() + 30_000).toUTCString();
    const failure = anthropicAdapter.mapError(529, body('overloaded_error', 'Overloaded'), {
      'retry-after': date,
    });
    expect(failure.retryAfterSeconds).toBeGreaterThanOrEqual(28);
    expect(failure.retryAfterSeconds).toBeLessThanOrEqual(31);
  });

  it('handles a non-JSON 413 from Cloudflare', () => {
    const failure = anthropicAdapter.mapError(
      413,
      '<html><head><title>413 Request Entity Too Large</title></head></html>',
      { 'content-type': 'text/html' },
    );
    expect(failure.kind).toBe('client');
    expect(failure.status).toBe(413);
    expect(failure.message).toContain('413 Request Entity Too Large');
    expect(failure.type).toBeUndefined();
  });

  it('handles an empty body', () => {
    const failure = anthropicAdapter.mapError(502, '', {});
    expect(failure.kind).toBe('retryable');
    expect(failure.message).toContain('502');
  });
});
