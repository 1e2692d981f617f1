import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Deployment } from '../../src/common/deployment.js';
import { countTexts } from '../../src/common/tokens.js';
import type { ChatCompletionRequest } from '../../src/providers/openai-types.js';
import { anthropicAdapter } from '../../src/providers/anthropic/anthropic.adapter.js';
import type {
  MapContext,
  ProviderFailure,
  StreamPart,
  ToolCallState,
  UpstreamRequest,
} from '../../src/providers/types.js';
import { anthropicBaseUrl, createAnthropicFake } from '../fakes/anthropic.js';
import { FAKE_TOOL_ARGUMENTS, type FakeProvider } from '../fakes/base.js';
import { mapContext } from '../support/adapters.js';

let fake: FakeProvider;

function ctx(
  deployment: Partial<Deployment> = {},
  apiKey = fake.apiKey,
  toolState = new Map<string, ToolCallState>(),
): MapContext {
  return mapContext('anthropic', {
    model: 'claude-haiku-4-5',
    deployment: { contextWindow: 200_000, maxOutputTokens: 16, reasoningEffort: undefined, ...deployment },
    config: { baseUrl: anthropicBaseUrl(fake), apiKey, anthropicVersion: '2023-06-01' },
    toolState,
  });
}

async function send(upstream: UpstreamRequest) {
  const res = await request(upstream.url, {
    method: upstream.method,
    headers: upstream.headers,
    body: upstream.body,
  });
  const headers = Object.fromEntries(
    Object.entries(res.headers).map(([key, value]) => [
      key,
      Array.isArray(value) ? value.join(', ') : (value ?? ''),
    ]),
  );
  return { res, headers };
}

/** Sends a chat call; a non-2xx answer comes back as the adapter's failure. */
async function chat(body: Partial<ChatCompletionRequest>, context = ctx()) {
  const upstream = anthropicAdapter.buildChatRequest(
    { model: 'claude', messages: [{ role: 'user', content: 'Say hello' }], ...body },
    false,
    context,
  );
  const { res, headers } = await send(upstream);
  if (res.statusCode >= 400) {
    return { failure: anthropicAdapter.mapError(res.statusCode, await res.body.text(), headers), headers };
  }
  return { response: anthropicAdapter.parseChatResponse(await res.body.json(), context), headers };
}

async function stream(body: Partial<ChatCompletionRequest>, context = ctx()) {
  const upstream = anthropicAdapter.buildChatRequest(
    { model: 'claude', messages: [{ role: 'user', content: 'Say hello' }], stream: true, ...body },
    true,
    context,
  );
  const { res, headers } = await send(upstream);
  if (res.statusCode >= 400) {
    return {
      parts: [] as StreamPart[],
      failure: anthropicAdapter.mapError(res.statusCode, await res.body.text(), headers),
    };
  }
  const parts: StreamPart[] = [];
  try {
    for await (const part of anthropicAdapter.parseStream(res.body, context)) {
      parts.push(part);
    }
  } catch {
    // A cut connection surfaces as a body error: the parts read so far are what matters.
  }
  return { parts, failure: undefined as ProviderFailure | undefined, contentType: headers['content-type'] };
}

const tools: ChatCompletionRequest['tools'] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: { type: 'object', properties: { location: { type: 'string' } } },
    },
  },
];

beforeAll(async () => {
  fake = await createAnthropicFake().start();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
});

describe('anthropic adapter against the fake', () => {
  it('answers a plain chat with deterministic text and usage', async () => {
    const { response, headers } = await chat({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Say hello' },
      ],
      max_completion_tokens: 3,
    });
    expect(response?.choices[0]).toMatchObject({
      content: 'Hello hello hello',
      finishReason: 'stop',
      toolCalls: [],
    });
    const prompt = countTexts(['You are terse.', 'Say hello']);
    expect(response?.usage).toMatchObject({
      prompt_tokens: prompt,
      completion_tokens: 3,
      total_tokens: prompt + 3,
    });
    expect(headers['anthropic-ratelimit-requests-remaining']).toMatch(/^\d+$/);
    expect(headers['anthropic-ratelimit-requests-reset']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const sent = fake.chatRequests()[0];
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe(fake.apiKey);
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent.body).toMatchObject({
      model: 'claude-haiku-4-5',
      max_tokens: 3,
      system: [{ type: 'text', text: 'You are terse.' }],
    });
  });

  it('sends the deployment max_tokens when the client gave none', async () => {
    const { response } = await chat({});
    expect((fake.chatRequests()[0].body as { max_tokens: number }).max_tokens).toBe(16);
    expect(response?.usage?.completion_tokens).toBe(16);
  });

  it('streams text with pings, usage from message_start then message_delta, and a finish', async () => {
    const { parts, contentType } = await stream({ max_tokens: 4 });
    expect(contentType).toContain('text/event-stream');
    const text = parts.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text);
    expect(text.join('')).toBe('Hello hello hello hello');
    const usages = parts.filter((p) => p.type === 'usage');
    expect(usages.length).toBe(2);
    expect(usages.at(-1)).toMatchObject({
      usage: { prompt_tokens: countTexts(['Say hello']), completion_tokens: 4 },
    });
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
  });

  it('frames the fake stream as named Anthropic events with pings', async () => {
    const upstream = anthropicAdapter.buildChatRequest(
      { model: 'claude', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3 },
      true,
      ctx(),
    );
    const { res } = await send(upstream);
    const raw = await res.body.text();
    const events = [...raw.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(events[0]).toBe('message_start');
    expect(events).toContain('ping');
    expect(events.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(raw).toContain('"type":"ping"');
  });

  it('round-trips a tool call (plain and streamed)', async () => {
    const first = await chat({ tools, max_tokens: 50 });
    const call = first.response!.choices[0].toolCalls[0];
    expect(first.response!.choices[0].finishReason).toBe('tool_calls');
    expect(call.id).toMatch(/^toolu_/);
    expect(call.function).toEqual({ name: 'get_weather', arguments: FAKE_TOOL_ARGUMENTS });

    const streamed = await stream({ tools, max_tokens: 50 });
    const toolCall = streamed.parts.find((p) => p.type === 'tool_call');
    expect(toolCall).toMatchObject({ index: 0, name: 'get_weather' });
    const args = streamed.parts
      .filter((p) => p.type === 'tool_args')
      .map((p) => (p as { arguments: string }).arguments)
      .join('');
    expect(args).toBe(FAKE_TOOL_ARGUMENTS);
    expect(streamed.parts.at(-1)).toEqual({ type: 'finish', reason: 'tool_calls' });

    const second = await chat({
      tools,
      max_tokens: 2,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: 'Sunny, 21C' },
      ],
    });
    expect(second.response!.choices[0]).toMatchObject({ content: 'Hello hello', finishReason: 'stop' });
    const sent = fake.chatRequests().at(-1)!.body as {
      messages: Array<{ role: string; content: unknown[] }>;
    };
    expect(sent.messages[1].content).toEqual([
      { type: 'tool_use', id: call.id, name: 'get_weather', input: { location: 'Paris' } },
    ]);
    expect(sent.messages[2]).toEqual({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: call.id, content: 'Sunny, 21C' }],
    });
    expect(second.response!.usage?.prompt_tokens).toBe(
      countTexts(['Weather in Paris?', FAKE_TOOL_ARGUMENTS, 'Sunny, 21C']),
    );
  });

  it('maps a 429 with retry-after to a retryable failure with the wait', async () => {
    fake.addFault({ kind: 'rate_limit', retryAfterSeconds: 7 });
    const { failure, headers } = await chat({});
    expect(failure).toMatchObject({
      kind: 'retryable',
      status: 429,
      type: 'rate_limit_error',
      retryAfterSeconds: 7,
    });
    expect(headers['anthropic-ratelimit-requests-remaining']).toBe('0');
  });

  it('maps 529 overloaded and 500 to retryable failures', async () => {
    fake.addFault({ kind: 'status', status: 529 });
    expect((await chat({})).failure).toMatchObject({
      kind: 'retryable',
      status: 529,
      type: 'overloaded_error',
    });
    fake.addFault({ kind: 'status', status: 500 });
    expect((await stream({})).failure).toMatchObject({ kind: 'retryable', status: 500, type: 'api_error' });
  });

  it('ends a cut stream without a finish', async () => {
    fake.addFault({ kind: 'cut', afterChunks: 2 });
    const { parts } = await stream({ max_tokens: 6 });
    expect(parts.filter((p) => p.type === 'text').length).toBe(2);
    expect(parts.some((p) => p.type === 'finish')).toBe(false);
  });

  it('turns the native mid-stream error into a retryable error part', async () => {
    fake.addFault({ kind: 'stream_error', afterChunks: 1 });
    const { parts } = await stream({ max_tokens: 6 });
    expect(parts.filter((p) => p.type === 'text').length).toBe(1);
    expect(parts.at(-1)).toMatchObject({
      type: 'error',
      failure: { kind: 'retryable', type: 'overloaded_error' },
    });
    expect(parts.some((p) => p.type === 'finish')).toBe(false);
  });

  it('maps a bad key to an auth failure', async () => {
    const { failure } = await chat({}, ctx({}, 'sk-ant-wrong'));
    expect(failure).toMatchObject({ kind: 'auth', status: 401, type: 'authentication_error' });
  });

  it('accepts Authorization: Bearer as the fake key header', async () => {
    const upstream = anthropicAdapter.probeRequest(ctx().config);
    const { res } = await send({
      ...upstream,
      headers: { authorization: `Bearer ${fake.apiKey}`, 'anthropic-version': '2023-06-01' },
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });

  it('answers the probe with the native model list', async () => {
    const { res } = await send(anthropicAdapter.probeRequest(ctx().config));
    expect(res.statusCode).toBe(200);
    const list = (await res.body.json()) as { data: Array<{ type: string; id: string }>; has_more: boolean };
    expect(list.data[0].type).toBe('model');
    expect(typeof list.has_more).toBe('boolean');
    expect(fake.probeRequests()[0].path).toBe('/v1/models?limit=1');
  });

  it('relays the Claude 5.x refusal of a forced tool_choice as a client failure', async () => {
    const { failure } = await chat(
      { tools, tool_choice: 'required' },
      ctx({ providerModel: 'claude-sonnet-5-5', forcedToolChoice: true }),
    );
    expect(failure).toMatchObject({ kind: 'client', status: 400, type: 'invalid_request_error' });
    expect(failure?.message).toContain('tool_choice');
    // The same request to a model that allows forcing is answered.
    expect((await chat({ tools, tool_choice: 'required' })).response?.choices[0].finishReason).toBe(
      'tool_calls',
    );
  });

  it('accepts a forced tool_choice on claude-haiku-5-5, as the catalog says; opus-5-5, sonnet-5-5 and fable refuse it', async () => {
    const haiku = await chat({ tools, tool_choice: 'required' }, ctx({ providerModel: 'claude-haiku-5-5' }));
    expect(haiku.failure).toBeUndefined();
    expect(haiku.response?.choices[0].finishReason).toBe('tool_calls');
    const named = await chat(
      { tools, tool_choice: { type: 'function', function: { name: 'get_weather' } } },
      ctx({ providerModel: 'claude-haiku-5-5' }),
    );
    expect(named.response?.choices[0].toolCalls[0]).toMatchObject({ function: { name: 'get_weather' } });
    for (const model of ['claude-opus-5-5', 'claude-sonnet-5-5', 'claude-fable-5-2']) {
      const { failure } = await chat({ tools, tool_choice: 'required' }, ctx({ providerModel: model }));
      expect(failure, model).toMatchObject({ kind: 'client', status: 400 });
    }
  });

  it('a max_tokens that only caps (the model maximum) gets a short answer, its usage counted from what was written', async () => {
    const context = ctx({ providerModel: 'claude-sonnet-5-5', maxOutputTokens: 128_000 });
    const { response } = await chat({}, context);
    expect((fake.chatRequests()[0].body as { max_tokens: number }).max_tokens).toBe(128_000);
    const text = response!.choices[0].content!;
    expect(text).toBe('Hello hello hello hello hello hello hello hello');
    expect(response?.usage?.completion_tokens).toBe(countTexts([text]));
    expect(response?.choices[0].finishReason).toBe('stop');

    const streamed = await stream({}, context);
    const written = streamed.parts
      .filter((p) => p.type === 'text')
      .map((p) => (p as { text: string }).text)
      .join('');
    expect(written).toBe(text);
    const usage = streamed.parts.filter((p) => p.type === 'usage').at(-1) as
      { usage: { completion_tokens: number } } | undefined;
    expect(usage?.usage.completion_tokens).toBe(countTexts([written]));
  });

  it('answers JSON when output_config.format is sent', async () => {
    const { response } = await chat({ response_format: { type: 'json_object' } });
    expect(JSON.parse(response!.choices[0].content!)).toEqual({ ok: true });
  });
});
