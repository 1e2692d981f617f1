import { describe, expect, it } from 'vitest';
import { mapContext } from '../../../test/support/adapters.js';
import { ErrorCode, GatewayError } from '../../common/errors.js';
import type { ChatCompletionRequest } from '../openai-types.js';
import type { MapContext } from '../types.js';
import { openAiCompatible } from './openai-compatible.js';
import type { OpenAiCompatibleOptions } from './options.js';

const base: OpenAiCompatibleOptions = {
  id: 'groq',
  multipleChoices: false,
  messageNames: false,
  developerRole: false,
  assistantRefusal: false,
  safetyIdentifier: false,
  unsupported: ['logit_bias', 'frequency_penalty', 'parallel_tool_calls'],
  strip: ['store', 'verbosity'],
  allowedValues: { service_tier: ['auto', 'flex'] },
  contentParts: ['text', 'image_url'],
  streamOptions: { include_usage: true },
};

function ctx(overrides: Partial<MapContext['deployment']> = {}): MapContext {
  return mapContext('groq', {
    model: 'openai/gpt-oss-120b',
    deployment: {
      contextWindow: 131_072,
      maxOutputTokens: 65_536,
      reasoningEffort: { low: 'low', medium: 'medium', high: 'high' },
      ...overrides,
    },
    config: { baseUrl: 'http://127.0.0.1:9999/openai/v1/' },
  });
}

function request(extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest {
  return { model: 'gpt-oss-120b', messages: [{ role: 'user', content: 'Hi' }], ...extra };
}

function build(extra: Partial<ChatCompletionRequest>, options = base, stream = false) {
  const upstream = openAiCompatible(options).buildChatRequest(request(extra), stream, ctx());
  return { upstream, body: JSON.parse(upstream.body!) as Record<string, unknown> };
}

function refusal(extra: Partial<ChatCompletionRequest>, options = base, context = ctx()): GatewayError {
  try {
    openAiCompatible(options).buildChatRequest(request(extra), false, context);
  } catch (error) {
    return error as GatewayError;
  }
  throw new Error('expected the request to be refused');
}

describe('openAiCompatible request mapping', () => {
  it('posts to {base}/chat/completions with the key in a Bearer header, never in the URL', () => {
    const { upstream, body } = build({});
    expect(upstream.method).toBe('POST');
    expect(upstream.url).toBe('http://127.0.0.1:9999/openai/v1/chat/completions');
    expect(upstream.headers.authorization).toBe('Bearer gsk_test');
    expect(upstream.headers['content-type']).toBe('application/json');
    expect(upstream.url).not.toContain('gsk_test');
    expect(body.model).toBe('openai/gpt-oss-120b');
    expect(body.messages).toEqual([{ role: 'user', content: 'Hi' }]);
  });

  it('sends max_completion_tokens, from max_tokens when that is all the client sent', () => {
    expect(build({ max_tokens: 50 }).body).toMatchObject({ max_completion_tokens: 50 });
    expect(build({ max_tokens: 50 }).body).not.toHaveProperty('max_tokens');
    expect(build({ max_tokens: 50, max_completion_tokens: 70 }).body.max_completion_tokens).toBe(70);
    expect(build({}).body).not.toHaveProperty('max_completion_tokens');
  });

  it('passes sampling, stop, seed, tools, tool_choice and response_format through unchanged', () => {
    const tools = [
      { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object' } } },
    ];
    const { body } = build({
      temperature: 0.2,
      top_p: 0.9,
      stop: ['END'],
      seed: 7,
      tools,
      tool_choice: 'required',
      response_format: { type: 'json_object' },
      user: 'u-1',
    });
    expect(body).toMatchObject({
      temperature: 0.2,
      top_p: 0.9,
      stop: ['END'],
      seed: 7,
      tools,
      tool_choice: 'required',
      response_format: { type: 'json_object' },
      user: 'u-1',
    });
  });

  it('maps reasoning_effort through the deployment and refuses a value the model lacks', () => {
    const context = ctx({ reasoningEffort: { minimal: 'low', high: 'high' } });
    const upstream = openAiCompatible(base).buildChatRequest(
      request({ reasoning_effort: 'minimal' }),
      false,
      context,
    );
    expect(JSON.parse(upstream.body!).reasoning_effort).toBe('low');

    const error = refusal({ reasoning_effort: 'xhigh' }, base, context);
    expect(error.code).toBe(ErrorCode.UnsupportedParameter);
    expect(error.param).toBe('reasoning_effort');

    const none = refusal({ reasoning_effort: 'low' }, base, ctx({ reasoningEffort: undefined }));
    expect(none.param).toBe('reasoning_effort');
    expect(build({ reasoning_effort: null }).body).not.toHaveProperty('reasoning_effort');
  });

  it('refuses an unsupported parameter naming it, and drops its no-op default', () => {
    for (const [field, value] of [
      ['logit_bias', { '50256': -100 }],
      ['frequency_penalty', 0.5],
      ['parallel_tool_calls', false],
    ] as const) {
      const error = refusal({ [field]: value });
      expect(error).toBeInstanceOf(GatewayError);
      expect(error.code).toBe(ErrorCode.UnsupportedParameter);
      expect(error.param).toBe(field);
    }
    const { body } = build({ logit_bias: {}, frequency_penalty: 0, parallel_tool_calls: true });
    expect(body).not.toHaveProperty('logit_bias');
    expect(body).not.toHaveProperty('frequency_penalty');
    expect(body).not.toHaveProperty('parallel_tool_calls');
  });

  it('strips the non-semantic fields silently', () => {
    const { body } = build({ store: true, verbosity: 'low', temperature: 1 });
    expect(body).not.toHaveProperty('store');
    expect(body).not.toHaveProperty('verbosity');
    expect(body.temperature).toBe(1);
  });

  it('passes allowed values, drops the no-op default and refuses the others', () => {
    expect(build({ service_tier: 'flex' }).body.service_tier).toBe('flex');
    expect(build({ service_tier: 'default' }).body).not.toHaveProperty('service_tier');
    expect(refusal({ service_tier: 'priority' }).param).toBe('service_tier');
  });

  it('refuses n > 1 on a single-choice provider and leaves out n: 1', () => {
    const error = refusal({ n: 3 });
    expect(error.code).toBe(ErrorCode.UnsupportedParameter);
    expect(error.param).toBe('n');
    expect(build({ n: 1 }).body).not.toHaveProperty('n');
    expect(build({ n: 3 }, { ...base, multipleChoices: true }).body.n).toBe(3);
  });

  it('refuses messages[].name where names are not accepted, naming the message', () => {
    const error = refusal({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi', name: 'alice' },
      ],
    });
    expect(error.code).toBe(ErrorCode.UnsupportedParameter);
    expect(error.param).toBe('messages[1].name');
    const kept = build(
      { messages: [{ role: 'user', content: 'Hi', name: 'alice' }] },
      { ...base, messageNames: true },
    );
    expect(kept.body.messages).toEqual([{ role: 'user', content: 'Hi', name: 'alice' }]);
  });

  it('sends developer messages as system where the role is unknown', () => {
    const messages: ChatCompletionRequest['messages'] = [
      { role: 'developer', content: 'Answer in French.' },
      { role: 'user', content: 'Hi' },
    ];
    expect((build({ messages }).body.messages as Array<{ role: string }>)[0].role).toBe('system');
    expect(
      (build({ messages }, { ...base, developerRole: true }).body.messages as Array<{ role: string }>)[0]
        .role,
    ).toBe('developer');
  });

  it('refuses content parts the provider does not take, naming the part', () => {
    const error = refusal({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Transcribe' },
            { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
          ],
        },
      ],
    });
    expect(error.code).toBe(ErrorCode.UnsupportedParameter);
    expect(error.param).toBe('messages[0].content[1]');
  });

  it('replays an assistant refusal as text where the provider has no refusal field', () => {
    const { body } = build({
      messages: [
        { role: 'user', content: 'Do the bad thing' },
        { role: 'assistant', content: null, refusal: "I can't help with that." },
        { role: 'assistant', content: [{ type: 'refusal', refusal: 'No.' }] },
        { role: 'user', content: 'OK' },
      ],
    });
    const messages = body.messages as Array<Record<string, unknown>>;
    expect(messages[1]).toEqual({ role: 'assistant', content: "I can't help with that." });
    expect(messages[2]).toEqual({ role: 'assistant', content: [{ type: 'text', text: 'No.' }] });
  });

  it('keeps the tool-call round trip intact', () => {
    const messages: ChatCompletionRequest['messages'] = [
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_abc',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"location":"Paris"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_abc', content: '{"temp":21}' },
    ];
    expect(build({ messages }).body.messages).toEqual(messages);
  });

  it('sends safety_identifier as user where it is unknown, without overriding user', () => {
    expect(build({ safety_identifier: 'hash-1' }).body).toMatchObject({ user: 'hash-1' });
    expect(build({ safety_identifier: 'hash-1' }).body).not.toHaveProperty('safety_identifier');
    expect(build({ safety_identifier: 'hash-1', user: 'u-2' }).body.user).toBe('u-2');
  });

  it('always asks a stream for usage, whatever the client asked, and never on a plain call', () => {
    const streamed = build({ stream: true, stream_options: { include_usage: false } }, base, true);
    expect(streamed.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(streamed.upstream.headers.accept).toBe('text/event-stream');

    const plain = build({ stream: true, stream_options: { include_usage: true } }, base, false);
    expect(plain.body).not.toHaveProperty('stream');
    expect(plain.body).not.toHaveProperty('stream_options');

    const quiet = build(
      { stream_options: { include_usage: true } },
      { ...base, streamOptions: undefined },
      true,
    );
    expect(quiet.body.stream).toBe(true);
    expect(quiet.body).not.toHaveProperty('stream_options');
  });

  it('probes GET {base}/models with the key in the header', () => {
    const probe = openAiCompatible(base).probeRequest({
      id: 'groq',
      baseUrl: 'https://api.groq.com/openai/v1',
      apiKey: 'gsk_x',
    });
    expect(probe).toEqual({
      method: 'GET',
      url: 'https://api.groq.com/openai/v1/models',
      headers: { authorization: 'Bearer gsk_x', accept: 'application/json' },
    });
  });
});
