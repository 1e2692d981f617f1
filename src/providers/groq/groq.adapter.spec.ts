import { describe, expect, it } from 'vitest';
import { mapContext } from '../../../test/support/adapters.js';
import { ErrorCode, GatewayError } from '../../common/errors.js';
import type { ChatCompletionRequest } from '../openai-types.js';
import type { StreamPart } from '../types.js';
import { DEFAULT_BASE_URLS } from '../base-urls.js';
import { groqAdapter } from './groq.adapter.js';

const ctx = mapContext('groq', { config: { baseUrl: DEFAULT_BASE_URLS.groq } });

function build(request: Partial<ChatCompletionRequest>, stream = false) {
  return groqAdapter.buildChatRequest(
    { model: 'qwen3.8-27b', messages: [{ role: 'user', content: 'Hi' }], ...request },
    stream,
    ctx,
  );
}

function refused(request: Partial<ChatCompletionRequest>): GatewayError {
  try {
    build(request);
  } catch (error) {
    return error as GatewayError;
  }
  throw new Error('expected a refusal');
}

async function collect(text: string): Promise<StreamPart[]> {
  async function* body(): AsyncGenerator<Uint8Array> {
    yield new TextEncoder().encode(text);
  }
  const parts: StreamPart[] = [];
  for await (const part of groqAdapter.parseStream(body(), ctx)) {
    parts.push(part);
  }
  return parts;
}

describe('groqAdapter', () => {
  it('posts to api.groq.com/openai/v1/chat/completions and asks streams for usage', () => {
    const upstream = build({ max_tokens: 100, temperature: 0, frequency_penalty: 0.3 }, true);
    expect(upstream.url).toBe('https://api.groq.com/openai/v1/chat/completions');
    expect(upstream.headers.authorization).toBe('Bearer gsk_test');
    expect(JSON.parse(upstream.body!)).toEqual({
      model: 'qwen/qwen3.8-27b',
      messages: [{ role: 'user', content: 'Hi' }],
      max_completion_tokens: 100,
      temperature: 0,
      frequency_penalty: 0.3,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it.each([
    ['logprobs', true],
    ['logit_bias', { '42': 10 }],
    ['top_logprobs', 3],
    ['n', 2],
  ])('refuses %s with a 400 naming it', (field, value) => {
    const error = refused({ [field]: value });
    expect(error).toBeInstanceOf(GatewayError);
    expect(error.code).toBe(ErrorCode.UnsupportedParameter);
    expect(error.param).toBe(field);
  });

  it('refuses messages[].name, and leaves out no-op logprobs:false and n:1', () => {
    expect(refused({ messages: [{ role: 'user', content: 'Hi', name: 'bob' }] }).param).toBe(
      'messages[0].name',
    );
    const sent = JSON.parse(build({ logprobs: false, n: 1 }).body!);
    expect(sent).not.toHaveProperty('logprobs');
    expect(sent).not.toHaveProperty('n');
  });

  it('passes the flex tier and refuses tiers Groq does not have', () => {
    expect(JSON.parse(build({ service_tier: 'flex' }).body!).service_tier).toBe('flex');
    expect(refused({ service_tier: 'priority' }).param).toBe('service_tier');
  });

  it('probes GET /openai/v1/models', () => {
    expect(groqAdapter.probeRequest(ctx.config).url).toBe('https://api.groq.com/openai/v1/models');
  });

  it('treats 498 capacity_exceeded as retryable and reads the envelope', () => {
    const failure = groqAdapter.mapError(
      498,
      '{"error":{"message":"Flex tier capacity exceeded. This model is currently at capacity.","type":"capacity_exceeded","code":"capacity_exceeded"}}',
      { 'x-ratelimit-reset-requests': '2m59.56s' },
    );
    expect(failure).toMatchObject({
      kind: 'retryable',
      status: 498,
      type: 'capacity_exceeded',
      code: 'capacity_exceeded',
      param: null,
    });
    expect(
      groqAdapter.mapError(
        401,
        '{"error":{"message":"Invalid API Key","type":"invalid_request_error","code":"invalid_api_key"}}',
        {},
      ),
    ).toMatchObject({ kind: 'auth', message: 'Invalid API Key' });
    expect(
      groqAdapter.mapError(
        429,
        '{"error":{"message":"Rate limit reached for model `qwen/qwen3.8-27b` on tokens per minute (TPM)","type":"tokens","code":"rate_limit_exceeded"}}',
        { 'retry-after': '3' },
      ),
    ).toMatchObject({ kind: 'retryable', type: 'tokens', retryAfterSeconds: 3 });
  });

  it('reads a recorded stream: a whole tool call in one chunk, usage from x_groq on the final chunk', async () => {
    const head =
      '"id":"chatcmpl-7a2","object":"chat.completion.chunk","created":1790000300,"model":"qwen/qwen3.8-27b","system_fingerprint":"fp_a1"';
    const text = [
      `data: {${head},"choices":[{"index":0,"delta":{"role":"assistant","content":null},"logprobs":null,"finish_reason":null}],"x_groq":{"id":"req_01k"}}`,
      `data: {${head},"choices":[{"index":0,"delta":{"reasoning":"Need the weather tool."},"logprobs":null,"finish_reason":null}]}`,
      `data: {${head},"choices":[{"index":0,"delta":{"tool_calls":[{"id":"call_9x","type":"function","function":{"name":"get_weather","arguments":"{\\"location\\":\\"Paris\\"}"},"index":0}]},"logprobs":null,"finish_reason":null}]}`,
      `data: {${head},"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"x_groq":{"id":"req_01k","usage":{"queue_time":0.05,"prompt_tokens":210,"prompt_time":0.01,"completion_tokens":25,"completion_time":0.02,"total_tokens":235,"total_time":0.03,"prompt_tokens_details":{"cached_tokens":128}}}}`,
      'data: [DONE]',
      '',
    ].join('\n\n');
    expect(await collect(text)).toEqual([
      {
        type: 'tool_call',
        choice: 0,
        index: 0,
        id: 'call_9x',
        name: 'get_weather',
        arguments: '{"location":"Paris"}',
      },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      {
        type: 'usage',
        usage: {
          prompt_tokens: 210,
          completion_tokens: 25,
          total_tokens: 235,
          prompt_tokens_details: { cached_tokens: 128 },
        },
      },
    ]);
  });

  it('prefers a top-level usage over x_groq.usage', async () => {
    const text =
      'data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6},"x_groq":{"id":"r","usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}}\n\ndata: [DONE]\n\n';
    expect(await collect(text)).toEqual([
      { type: 'usage', usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } },
    ]);
  });
});
