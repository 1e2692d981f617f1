import { describe, expect, it } from 'vitest';
import { geminiAdapter } from '../providers/gemini/gemini.adapter.js';
import { openaiAdapter } from '../providers/openai/openai.adapter.js';
import type { ProviderFailure } from '../providers/types.js';
import { countsAgainstModel, countsAgainstProvider, judgeProbe, type ProbeOutcome } from './probe-outcome.js';

const failed = (failure: ProviderFailure): ProbeOutcome => ({
  kind: 'failed',
  httpStatus: failure.status || null,
  latencyMs: 10,
  failure,
});
const ok = (latencyMs: number): ProbeOutcome => ({ kind: 'ok', httpStatus: 200, latencyMs });

describe('judgeProbe', () => {
  it('healthy when it answers quickly and did lately', () => {
    expect(judgeProbe(ok(20), ['healthy', 'healthy'], 1_000)).toEqual({
      state: 'healthy',
      error: null,
      configurationError: false,
    });
  });

  it('degraded when slow, or when recovering from a failed probe', () => {
    expect(judgeProbe(ok(1_500), [], 1_000)).toMatchObject({ state: 'degraded', error: 'slow' });
    expect(judgeProbe(ok(20), ['healthy', 'down'], 1_000)).toMatchObject({
      state: 'degraded',
      error: 'recent_failures',
    });
  });

  it('down on connection errors, timeouts and 5xx', () => {
    const connection: ProviderFailure = {
      kind: 'retryable',
      status: 0,
      message: 'x',
      code: 'connection_error',
    };
    expect(judgeProbe(failed(connection), [], 1_000)).toMatchObject({
      state: 'down',
      error: 'connection_error',
    });
    expect(judgeProbe(failed({ ...connection, code: 'timeout' }), [], 1_000)).toMatchObject({
      error: 'timeout',
    });
    const overloaded = openaiAdapter.mapError(503, '{"error":{"message":"overloaded","type":"x"}}', {});
    expect(judgeProbe(failed(overloaded), [], 1_000)).toMatchObject({ state: 'down', error: 'http_503' });
  });

  it('a refused key is down and a configuration error (401, and Gemini 400 API_KEY_INVALID)', () => {
    const openai = openaiAdapter.mapError(401, '{"error":{"message":"Invalid API Key","type":"x"}}', {});
    expect(judgeProbe(failed(openai), [], 1_000)).toEqual({
      state: 'down',
      error: 'auth',
      configurationError: true,
    });
    const gemini = geminiAdapter.mapError(
      400,
      JSON.stringify({
        error: {
          code: 400,
          message: 'API key not valid. Please pass a valid API key.',
          status: 'INVALID_ARGUMENT',
          details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }],
        },
      }),
      {},
    );
    expect(judgeProbe(failed(gemini), [], 1_000)).toMatchObject({ state: 'down', configurationError: true });
  });

  it('429s never take a provider down, however many', () => {
    const limited = openaiAdapter.mapError(429, '{"error":{"message":"slow down","type":"requests"}}', {
      'retry-after': '1',
    });
    expect(judgeProbe(failed(limited), ['degraded', 'degraded'], 1_000)).toMatchObject({
      state: 'degraded',
      error: 'rate_limited',
    });
  });
});

describe('what live failures count toward the circuits', () => {
  it('a provider model: connection errors, timeouts, 5xx, 529 and a refused key; not 429s nor the client’s errors', () => {
    expect(countsAgainstModel({ kind: 'retryable', status: 0, message: 'x', code: 'timeout' })).toBe(true);
    expect(countsAgainstModel({ kind: 'retryable', status: 502, message: 'x' })).toBe(true);
    expect(countsAgainstModel({ kind: 'retryable', status: 529, message: 'x' })).toBe(true);
    expect(countsAgainstModel({ kind: 'auth', status: 401, message: 'x' })).toBe(true);
    expect(countsAgainstModel({ kind: 'retryable', status: 429, message: 'x' })).toBe(false);
    expect(countsAgainstModel({ kind: 'client', status: 400, message: 'x' })).toBe(false);
  });

  it('the whole provider: only what concerns all its models (unreachable, timed out, our key refused)', () => {
    expect(countsAgainstProvider({ kind: 'retryable', status: 0, message: 'x' })).toBe(true);
    expect(countsAgainstProvider({ kind: 'auth', status: 403, message: 'x' })).toBe(true);
    expect(countsAgainstProvider({ kind: 'retryable', status: 503, message: 'x' })).toBe(false);
    expect(countsAgainstProvider({ kind: 'retryable', status: 429, message: 'x' })).toBe(false);
  });
});
