import { describe, expect, it } from 'vitest';
import { mapContext } from '../../../test/support/adapters.js';
import { ErrorCode, GatewayError } from '../../common/errors.js';
import type { ChatCompletionRequest } from '../openai-types.js';
import type { StreamPart } from '../types.js';
import { DEFAULT_BASE_URLS } from '../base-urls.js';
import { cerebrasAdapter } from './cerebras.adapter.js';

const ctx = mapContext('cerebras', { config: { baseUrl: DEFAULT_BASE_URLS.cerebras } });

function build(request: Partial<ChatCompletionRequest>, stream = false) {
  return cerebrasAdapter.buildChatRequest(
    { model: 'gpt-oss-120b', messages: [{ role: 'user', content: 'Hi' }], ...request },
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
  for await (const part of cerebrasAdapter.parseStream(body(), ctx)) {
    parts.push(part);
  }
  return parts;
}

describe('cerebrasAdapter', () => {
  it('posts to api.cerebras.ai/v1/chat/completions with max_completion_tokens', () => {
    const upstream = build({ max_tokens: 512, reasoning_effort: 'high' });
    expect(upstream.url).toBe('https://api.cerebras.ai/v1/chat/completions');
    expect(upstream.headers.authorization).toBe('Bearer csk-test');
    expect(JSON.parse(upstream.body!)).toEqual({
      model: 'gpt-oss-120b',
      messages: [{ role: 'user', content: 'Hi' }],
      max_completion_tokens: 512,
      reasoning_effort: 'high',
    });
  });

  it.each([
    ['frequency_penalty', 0.4],
    ['presence_penalty', 1],
    ['logit_bias', { '1': 5 }],
    ['parallel_tool_calls', false],
    ['service_tier', 'flex'],
    ['n', 2],
  ])('refuses %s with a 400 naming it', (field, value) => {
    const error = refused({ [field]: value });
    expect(error).toBeInstanceOf(GatewayError);
    expect(error.code).toBe(ErrorCode.UnsupportedParameter);
    expect(error.param).toBe(field);
  });

  it('strips store, prompt_cache_key and verbosity silently, and sends no stream_options', () => {
    const sent = JSON.parse(
      build(
        { store: true, prompt_cache_key: 'k', verbosity: 'high', stream_options: { include_usage: true } },
        true,
      ).body!,
    );
    expect(sent).toEqual({
      model: 'gpt-oss-120b',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    });
  });

  it('maps the flat error body', () => {
    const failure = cerebrasAdapter.mapError(
      429,
      '{"message":"Tokens per minute limit exceeded - too many tokens processed.","type":"too_many_requests_error","param":"quota","code":"token_quota_exceeded"}',
      {
        'retry-after': '11',
        'x-ratelimit-remaining-tokens-minute': '0',
        'x-ratelimit-reset-tokens-minute': '11.38',
      },
    );
    expect(failure).toEqual({
      kind: 'retryable',
      status: 429,
      message: 'Tokens per minute limit exceeded - too many tokens processed.',
      type: 'too_many_requests_error',
      param: 'quota',
      code: 'token_quota_exceeded',
      retryAfterSeconds: 11,
    });
    expect(
      cerebrasAdapter.mapError(
        401,
        '{"message":"Wrong API Key","type":"invalid_request_error","param":"api_key","code":"wrong_api_key"}',
        {},
      ),
    ).toMatchObject({ kind: 'auth', message: 'Wrong API Key', code: 'wrong_api_key' });
    expect(
      cerebrasAdapter.mapError(402, '{"message":"Payment required","type":"payment_required"}', {}).kind,
    ).toBe('auth');
  });

  it('reads a recorded stream: reasoning deltas and time_info stay out, usage comes from the final chunk', async () => {
    const head =
      '"id":"chatcmpl-4f1","object":"chat.completion.chunk","created":1790000200,"model":"gpt-oss-120b","system_fingerprint":"fp_70185065a4"';
    const text = [
      `data: {${head},"choices":[{"index":0,"delta":{"role":"assistant"}}]}`,
      `data: {${head},"choices":[{"index":0,"delta":{"reasoning":"The user greets me."}}]}`,
      `data: {${head},"choices":[{"index":0,"delta":{"content":"Hello"}}]}`,
      `data: {${head},"choices":[{"index":0,"delta":{"content":"!"}}]}`,
      `data: {${head},"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":72,"completion_tokens":18,"total_tokens":90,"prompt_tokens_details":{"cached_tokens":64},"completion_tokens_details":{"reasoning_tokens":12}},"time_info":{"queue_time":0.0001,"prompt_time":0.001,"completion_time":0.008,"total_time":0.0096,"created":1790000200.1}}`,
      'data: [DONE]',
      '',
    ].join('\n\n');
    expect(await collect(text)).toEqual([
      { type: 'text', choice: 0, text: 'Hello' },
      { type: 'text', choice: 0, text: '!' },
      { type: 'finish', choice: 0, reason: 'stop' },
      {
        type: 'usage',
        usage: {
          prompt_tokens: 72,
          completion_tokens: 18,
          total_tokens: 90,
          prompt_tokens_details: { cached_tokens: 64 },
          completion_tokens_details: { reasoning_tokens: 12 },
        },
      },
    ]);
  });
});
