import { describe, expect, it } from 'vitest';
import { geminiAdapter } from './gemini.adapter.js';

/** Recorded-style Gemini error bodies (pretty-printed as Google sends them). */
function body(code: number, status: string, message: string, details?: unknown[]): string {
  return JSON.stringify({ error: { code, message, status, ...(details ? { details } : {}) } }, null, 2);
}

const badKey = body(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
  {
    '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
    reason: 'API_KEY_INVALID',
    domain: 'googleapis.com',
    metadata: { service: 'generativelanguage.googleapis.com' },
  },
  {
    '@type': 'type.googleapis.com/google.rpc.LocalizedMessage',
    locale: 'en-US',
    message: 'API key not valid.',
  },
]);

const quota = body(429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota. Please retry in 36.6s.', [
  {
    '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
    violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests' }],
  },
  {
    '@type': 'type.googleapis.com/google.rpc.Help',
    links: [{ url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }],
  },
  { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '36.6s' },
]);

describe('gemini errors', () => {
  it('treats a bad key (400 API_KEY_INVALID) as auth', () => {
    expect(geminiAdapter.mapError(400, badKey, {})).toEqual({
      kind: 'auth',
      status: 400,
      message: 'API key not valid. Please pass a valid API key.',
      type: 'INVALID_ARGUMENT',
      code: 'API_KEY_INVALID',
      param: null,
    });
  });

  it('treats 400 FAILED_PRECONDITION (billing / region) and 403 as auth', () => {
    const precondition = body(400, 'FAILED_PRECONDITION', 'User location is not supported for the API use.');
    expect(geminiAdapter.mapError(400, precondition, {}).kind).toBe('auth');
    const denied = body(403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers.");
    expect(geminiAdapter.mapError(403, denied, {})).toMatchObject({
      kind: 'auth',
      type: 'PERMISSION_DENIED',
    });
  });

  it('treats 429 as retryable with the wait from RetryInfo (rounded up)', () => {
    expect(geminiAdapter.mapError(429, quota, {})).toMatchObject({
      kind: 'retryable',
      status: 429,
      type: 'RESOURCE_EXHAUSTED',
      retryAfterSeconds: 37,
    });
    const whole = quota.replace('36.6s', '37s');
    expect(geminiAdapter.mapError(429, whole, {}).retryAfterSeconds).toBe(37);
  });

  it('falls back to a retry-after header when the body has no RetryInfo', () => {
    const plain = body(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted.');
    expect(geminiAdapter.mapError(429, plain, { 'retry-after': '4' }).retryAfterSeconds).toBe(4);
    expect(geminiAdapter.mapError(429, plain, {})).not.toHaveProperty('retryAfterSeconds');
  });

  it.each([
    [404, 'NOT_FOUND'],
    [500, 'INTERNAL'],
    [503, 'UNAVAILABLE'],
    [504, 'DEADLINE_EXCEEDED'],
  ])('treats %i %s as retryable', (status, rpc) => {
    expect(geminiAdapter.mapError(status, body(status, rpc, 'x'), {})).toMatchObject({
      kind: 'retryable',
      type: rpc,
    });
  });

  it('treats other 400s as client errors and keeps the message', () => {
    const failure = geminiAdapter.mapError(
      400,
      body(400, 'INVALID_ARGUMENT', 'Function call is missing a thought_signature in functionCall parts.'),
      {},
    );
    expect(failure).toMatchObject({
      kind: 'client',
      status: 400,
      message: 'Function call is missing a thought_signature in functionCall parts.',
    });
  });

  it('handles a body that is not JSON', () => {
    const failure = geminiAdapter.mapError(502, '<html><body>Bad Gateway</body></html>', {});
    expect(failure).toMatchObject({
      kind: 'retryable',
      status: 502,
      message: '<html><body>Bad Gateway</body></html>',
    });
    expect(geminiAdapter.mapError(500, '', {}).message).toBe('Gemini answered HTTP 500.');
  });
});
