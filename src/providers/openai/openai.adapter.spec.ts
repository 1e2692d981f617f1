import { describe, expect, it } from 'vitest';
import { mapContext } from '../../../test/support/adapters.js';
import type { ChatCompletionRequest } from '../openai-types.js';
import { DEFAULT_BASE_URLS } from '../base-urls.js';
import { openaiAdapter } from './openai.adapter.js';

const ctx = mapContext('openai', { config: { baseUrl: DEFAULT_BASE_URLS.openai } });

function body(request: Partial<ChatCompletionRequest>, stream = false): Record<string, unknown> {
  const upstream = openaiAdapter.buildChatRequest(
    { model: 'gpt-6.2-sol', messages: [{ role: 'user', content: 'Hi' }], ...request },
    stream,
    ctx,
  );
  expect(upstream.url).toBe('https://api.openai.com/v1/chat/completions');
  return JSON.parse(upstream.body!) as Record<string, unknown>;
}

describe('openaiAdapter', () => {
  it('is the openai adapter', () => {
    expect(openaiAdapter.id).toBe('openai');
  });

  it('sends max_completion_tokens, never max_tokens', () => {
    const sent = body({ max_tokens: 256 });
    expect(sent.max_completion_tokens).toBe(256);
    expect(sent).not.toHaveProperty('max_tokens');
  });

  it('passes every OpenAI parameter through', () => {
    const request: Partial<ChatCompletionRequest> = {
      messages: [
        { role: 'developer', content: 'Be terse.', name: 'ops' },
        { role: 'user', content: 'Hi', name: 'alice' },
        { role: 'assistant', content: null, refusal: 'No.' },
      ],
      n: 3,
      logprobs: true,
      top_logprobs: 5,
      logit_bias: { '50256': -100 },
      frequency_penalty: 0.5,
      presence_penalty: -0.2,
      parallel_tool_calls: false,
      service_tier: 'priority',
      store: true,
      metadata: { team: 'a' },
      prompt_cache_key: 'conv-1',
      verbosity: 'low',
      safety_identifier: 'hash-9',
      user: 'u-1',
      seed: 3,
    };
    const sent = body(request);
    const { messages, ...rest } = request;
    expect(sent).toMatchObject(rest);
    expect(sent.messages).toEqual(messages);
    expect(body({ reasoning_effort: 'none' }).reasoning_effort).toBe('low');
  });

  it('always asks the stream for usage, and turns obfuscation padding off', () => {
    expect(body({ stream: true, stream_options: { include_usage: false } }, true)).toMatchObject({
      stream: true,
      stream_options: { include_usage: true, include_obfuscation: false },
    });
  });

  it('probes GET /v1/models', () => {
    expect(openaiAdapter.probeRequest(ctx.config)).toMatchObject({
      method: 'GET',
      url: 'https://api.openai.com/v1/models',
      headers: { authorization: 'Bearer sk-test' },
    });
  });

  it('maps OpenAI errors: invalid key → auth, out of quota → auth, rate limit → retryable', () => {
    const invalidKey = openaiAdapter.mapError(
      401,
      '{"error":{"message":"Incorrect API key provided: sk-tes*****. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}',
      { 'x-request-id': 'req_1' },
    );
    expect(invalidKey).toMatchObject({ kind: 'auth', status: 401, code: 'invalid_api_key' });
    const quota = openaiAdapter.mapError(
      429,
      '{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}',
      {},
    );
    expect(quota.kind).toBe('auth');
    const limited = openaiAdapter.mapError(
      429,
      '{"error":{"message":"Rate limit reached for gpt-6.2-sol in organization org-x on requests per min (RPM): Limit 500, Used 500, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}',
      { 'retry-after': '2', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '120ms' },
    );
    expect(limited).toMatchObject({
      kind: 'retryable',
      type: 'requests',
      code: 'rate_limit_exceeded',
      retryAfterSeconds: 2,
    });
  });
});
