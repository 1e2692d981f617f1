import { describe, expect, it } from 'vitest';
import { mapError, retryAfterSeconds } from './errors.js';
import type { OpenAiCompatibleOptions } from './options.js';

const options: OpenAiCompatibleOptions = {
  id: 'openai',
  multipleChoices: true,
  messageNames: true,
  developerRole: true,
  assistantRefusal: true,
  safetyIdentifier: true,
  retryableStatuses: [498],
};
const envelope = (error: Record<string, unknown>) => JSON.stringify({ error });

describe('openAiCompatible error mapping', () => {
  it('reads the OpenAI envelope', () => {
    const failure = mapError(
      options,
      400,
      envelope({
        message: "This model's maximum context length is 128000 tokens.",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'context_length_exceeded',
      }),
      {},
    );
    expect(failure).toEqual({
      kind: 'client',
      status: 400,
      message: "This model's maximum context length is 128000 tokens.",
      type: 'invalid_request_error',
      param: 'messages',
      code: 'context_length_exceeded',
    });
  });

  it('reads a flat body (Cerebras)', () => {
    const failure = mapError(
      options,
      404,
      JSON.stringify({
        message: 'Model qwen-3-32b does not exist or you do not have access to it.',
        type: 'not_found_error',
        param: 'model',
        code: 'model_not_found',
      }),
      {},
    );
    expect(failure).toMatchObject({
      kind: 'retryable',
      status: 404,
      type: 'not_found_error',
      param: 'model',
      code: 'model_not_found',
    });
    expect(failure.message).toContain('qwen-3-32b');
  });

  it('classifies statuses', () => {
    const kind = (status: number, body = '{}') => mapError(options, status, body, {}).kind;
    expect(kind(401)).toBe('auth');
    expect(kind(403)).toBe('auth');
    expect(kind(402)).toBe('auth');
    expect(kind(408)).toBe('retryable');
    expect(kind(409)).toBe('retryable');
    expect(kind(429)).toBe('retryable');
    expect(kind(500)).toBe('retryable');
    expect(kind(503)).toBe('retryable');
    expect(kind(498)).toBe('retryable');
    expect(mapError({ ...options, retryableStatuses: [] }, 498, '{}', {}).kind).toBe('client');
    expect(kind(400)).toBe('client');
    expect(kind(413)).toBe('client');
    expect(kind(422)).toBe('client');
    expect(
      kind(
        429,
        envelope({
          message: 'You exceeded your current quota',
          type: 'insufficient_quota',
          code: 'insufficient_quota',
        }),
      ),
    ).toBe('auth');
  });

  it('takes retry-after, retry-after-ms first, or an HTTP date', () => {
    expect(mapError(options, 429, '{}', { 'retry-after': '7' }).retryAfterSeconds).toBe(7);
    expect(
      mapError(options, 429, '{}', { 'retry-after': '7', 'retry-after-ms': '1500' }).retryAfterSeconds,
    ).toBe(1.5);
    expect(mapError(options, 500, '{}', {}).retryAfterSeconds).toBeUndefined();
    const inTen = new Date(Date.now() + 10_000).toUTCString();
    const fromDate = retryAfterSeconds({ 'retry-after': inTen });
    expect(fromDate).toBeGreaterThanOrEqual(9);
    expect(fromDate).toBeLessThanOrEqual(11);
    expect(retryAfterSeconds({ 'retry-after': 'soon' })).toBeUndefined();
  });

  it('keeps a non-JSON body as the message', () => {
    const failure = mapError(options, 502, '<html><body>502 Bad Gateway</body></html>', {});
    expect(failure).toMatchObject({ kind: 'retryable', status: 502, code: null, param: null });
    expect(failure.message).toContain('502 Bad Gateway');
    expect(mapError(options, 503, '', {}).message).toBe('HTTP 503');
  });
});
