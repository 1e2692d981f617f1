import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ProviderId } from '../../src/common/provider-ids.js';
import { countTexts } from '../../src/common/tokens.js';
import { cerebrasAdapter } from '../../src/providers/cerebras/cerebras.adapter.js';
import { groqAdapter } from '../../src/providers/groq/groq.adapter.js';
import { openaiAdapter } from '../../src/providers/openai/openai.adapter.js';
import type { ChatCompletionRequest } from '../../src/providers/openai-types.js';
import type {
  MapContext,
  ProviderAdapter,
  ProviderFailure,
  StreamPart,
  UpstreamRequest,
} from '../../src/providers/types.js';
import { FAKE_TOOL_ARGUMENTS, type FakeProvider } from '../fakes/base.js';
import { cerebrasBaseUrl, createCerebrasFake } from '../fakes/cerebras.js';
import { createGroqFake, groqBaseUrl } from '../fakes/groq.js';
import { createOpenAiFake, openAiBaseUrl } from '../fakes/openai.js';
import { mapContext } from '../support/adapters.js';

/** The limits every deployment here is mapped with. */
const LIMITS = { contextWindow: 131_072, maxOutputTokens: 32_768 };

interface Case {
  id: ProviderId;
  adapter: ProviderAdapter;
  createFake: () => FakeProvider;
  baseUrl: (fake: FakeProvider) => string;
  model: string;
  rateLimitHeader: string;
}

const cases: Case[] = [
  {
    id: 'openai',
    adapter: openaiAdapter,
    createFake: () => createOpenAiFake(),
    baseUrl: openAiBaseUrl,
    model: 'gpt-6.2-sol',
    rateLimitHeader: 'x-ratelimit-remaining-requests',
  },
  {
    id: 'cerebras',
    adapter: cerebrasAdapter,
    createFake: () => createCerebrasFake(),
    baseUrl: cerebrasBaseUrl,
    model: 'gpt-oss-120b',
    rateLimitHeader: 'x-ratelimit-remaining-tokens-minute',
  },
  {
    id: 'groq',
    adapter: groqAdapter,
    createFake: () => createGroqFake(),
    baseUrl: groqBaseUrl,
    model: 'openai/gpt-oss-120b',
    rateLimitHeader: 'x-ratelimit-remaining-tokens',
  },
];

const TOOLS: ChatCompletionRequest['tools'] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
    },
  },
];

interface Sent {
  status: number;
  headers: Record<string, string>;
  res: Awaited<ReturnType<typeof request>>;
}

async function send(upstream: UpstreamRequest): Promise<Sent> {
  const res = await request(upstream.url, {
    method: upstream.method,
    headers: upstream.headers,
    body: upstream.body,
  });
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined) {
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
  }
  return { status: res.statusCode, headers, res };
}

async function failureOf(adapter: ProviderAdapter, sent: Sent): Promise<ProviderFailure> {
  return adapter.mapError(sent.status, await sent.res.body.text(), sent.headers);
}

async function collect(adapter: ProviderAdapter, sent: Sent, ctx: MapContext): Promise<StreamPart[]> {
  const parts: StreamPart[] = [];
  for await (const part of adapter.parseStream(sent.res.body, ctx)) {
    parts.push(part);
  }
  return parts;
}

const textOf = (parts: StreamPart[], choice = 0) =>
  parts
    .filter(
      (p): p is Extract<StreamPart, { type: 'text' }> => p.type === 'text' && (p.choice ?? 0) === choice,
    )
    .map((p) => p.text)
    .join('');

describe.each(cases)(
  '$id adapter against its fake',
  ({ id, adapter, createFake, baseUrl, model, rateLimitHeader }) => {
    let fake: FakeProvider;
    let ctx: MapContext;

    beforeAll(async () => {
      fake = await createFake().start();
      ctx = mapContext(id, {
        model,
        deployment: { ...LIMITS, reasoningEffort: { low: 'low', medium: 'medium', high: 'high' } },
        config: { baseUrl: baseUrl(fake), apiKey: fake.apiKey },
      });
    });
    afterAll(async () => {
      await fake.close();
    });
    beforeEach(() => {
      fake.reset();
    });

    const chat = (extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
      model: 'client-model-name',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Say hello' },
      ],
      ...extra,
    });

    it('answers a plain chat, with the deterministic text and usage', async () => {
      const sent = await send(
        adapter.buildChatRequest(chat({ max_tokens: 5, reasoning_effort: 'low' }), false, ctx),
      );
      expect(sent.status).toBe(200);
      expect(sent.headers[rateLimitHeader]).toBeDefined();
      const answer = adapter.parseChatResponse(await sent.res.body.json(), ctx);
      expect(answer.choices).toEqual([
        {
          index: 0,
          content: 'Hello hello hello hello hello',
          refusal: null,
          toolCalls: [],
          finishReason: 'stop',
        },
      ]);
      const prompt = countTexts(['Be brief.', 'Say hello']);
      expect(answer.usage).toMatchObject({
        prompt_tokens: prompt,
        completion_tokens: 5,
        total_tokens: prompt + 5,
      });

      const [recorded] = fake.chatRequests();
      expect(recorded.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
      expect(recorded.body).toMatchObject({ model, max_completion_tokens: 5, reasoning_effort: 'low' });
      expect(recorded.body).not.toHaveProperty('max_tokens');
    });

    it('streams text, a finish and the usage', async () => {
      const sent = await send(
        adapter.buildChatRequest(chat({ max_completion_tokens: 4, stream: true }), true, ctx),
      );
      expect(sent.status).toBe(200);
      expect(sent.headers['content-type']).toContain('text/event-stream');
      const parts = await collect(adapter, sent, ctx);
      expect(textOf(parts)).toBe('Hello hello hello hello');
      expect(parts.filter((p) => p.type === 'finish')).toEqual([
        { type: 'finish', choice: 0, reason: 'stop' },
      ]);
      const usage = parts.filter((p) => p.type === 'usage').at(-1);
      expect(usage).toMatchObject({
        usage: { completion_tokens: 4, prompt_tokens: countTexts(['Be brief.', 'Say hello']) },
      });
      // Nothing but normalized parts comes out: no time_info, x_groq or reasoning.
      expect(JSON.stringify(parts)).not.toMatch(/time_info|x_groq|queue_time/);
    });

    it('makes a tool call and takes the tool result back', async () => {
      const first = await send(
        adapter.buildChatRequest(chat({ tools: TOOLS, tool_choice: 'auto' }), false, ctx),
      );
      const answer = adapter.parseChatResponse(await first.res.body.json(), ctx);
      expect(answer.choices[0].finishReason).toBe('tool_calls');
      const [call] = answer.choices[0].toolCalls;
      expect(call.id).toMatch(/^call_/);
      expect(call.function).toEqual({ name: 'get_weather', arguments: FAKE_TOOL_ARGUMENTS });

      const followUp = chat({
        tools: TOOLS,
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: null, tool_calls: [call] },
          { role: 'tool', tool_call_id: call.id, content: '{"temperature":21}' },
        ],
      });
      const second = await send(adapter.buildChatRequest(followUp, false, ctx));
      const final = adapter.parseChatResponse(await second.res.body.json(), ctx);
      expect(final.choices[0]).toMatchObject({ finishReason: 'stop', toolCalls: [] });
      expect(final.choices[0].content).toMatch(/^Hello/);
      expect((fake.chatRequests()[1].body as { messages: unknown[] }).messages).toEqual(followUp.messages);
    });

    it('streams a tool call: announced once, then argument fragments', async () => {
      const sent = await send(adapter.buildChatRequest(chat({ tools: TOOLS, stream: true }), true, ctx));
      const parts = await collect(adapter, sent, ctx);
      const calls = parts.filter((p) => p.type === 'tool_call');
      expect(calls).toEqual([
        {
          type: 'tool_call',
          choice: 0,
          index: 0,
          id: expect.stringMatching(/^call_/) as unknown,
          name: 'get_weather',
        },
      ]);
      const args = parts
        .filter((p): p is Extract<StreamPart, { type: 'tool_args' }> => p.type === 'tool_args')
        .map((p) => p.arguments)
        .join('');
      expect(args).toBe(FAKE_TOOL_ARGUMENTS);
      expect(parts.find((p) => p.type === 'finish')).toEqual({
        type: 'finish',
        choice: 0,
        reason: 'tool_calls',
      });
    });

    it('maps a 429 with retry-after to a retryable failure', async () => {
      fake.addFault({ kind: 'rate_limit', retryAfterSeconds: 3 });
      const sent = await send(adapter.buildChatRequest(chat(), false, ctx));
      expect(sent.status).toBe(429);
      expect(sent.headers[rateLimitHeader]).toBe('0');
      const failure = await failureOf(adapter, sent);
      expect(failure).toMatchObject({ kind: 'retryable', status: 429, retryAfterSeconds: 3 });
      expect(failure.message).toMatch(/limit/i);
    });

    it.each([500, 503])('maps a %i to a retryable failure with the native message', async (status) => {
      fake.addFault({ kind: 'status', status });
      const sent = await send(adapter.buildChatRequest(chat({ stream: true }), true, ctx));
      expect(sent.status).toBe(status);
      const failure = await failureOf(adapter, sent);
      expect(failure.kind).toBe('retryable');
      expect(failure.status).toBe(status);
      expect(failure.message).not.toMatch(/^HTTP/);
      expect(failure.type).toBeDefined();
    });

    it('ends a cut stream without a finish', async () => {
      fake.addFault({ kind: 'cut', afterChunks: 2 });
      const sent = await send(adapter.buildChatRequest(chat({ stream: true }), true, ctx));
      const parts = await collect(adapter, sent, ctx);
      expect(parts.some((p) => p.type === 'finish')).toBe(false);
      expect(parts.some((p) => p.type === 'error')).toBe(false);
      expect(textOf(parts)).toBe('Hello hello');
    });

    it('turns the native mid-stream error into an error part', async () => {
      fake.addFault({ kind: 'stream_error', afterChunks: 1 });
      const sent = await send(adapter.buildChatRequest(chat({ stream: true }), true, ctx));
      expect(sent.status).toBe(200);
      const parts = await collect(adapter, sent, ctx);
      expect(textOf(parts)).toBe('Hello');
      const last = parts.at(-1);
      expect(last).toMatchObject({ type: 'error', failure: { kind: 'retryable', status: 0 } });
      expect(parts.some((p) => p.type === 'finish')).toBe(false);
    });

    it('maps a bad key to an auth failure', async () => {
      const badCtx = { ...ctx, config: { ...ctx.config, apiKey: 'wrong-key' } };
      const sent = await send(adapter.buildChatRequest(chat(), false, badCtx));
      expect(sent.status).toBe(401);
      const failure = await failureOf(adapter, sent);
      expect(failure).toMatchObject({ kind: 'auth', status: 401 });
      expect(failure.message).toMatch(/api key/i);

      const probe = await send(adapter.probeRequest(badCtx.config));
      expect(probe.status).toBe(401);
      expect((await failureOf(adapter, probe)).kind).toBe('auth');
    });

    it('answers the probe with the native model list', async () => {
      const sent = await send(adapter.probeRequest(ctx.config));
      expect(sent.status).toBe(200);
      const list = (await sent.res.body.json()) as {
        object: string;
        data: Array<{ id: string; object: string }>;
      };
      expect(list.object).toBe('list');
      expect(list.data.length).toBeGreaterThan(0);
      expect(list.data[0].object).toBe('model');
      expect(fake.probeRequests()).toHaveLength(1);
      expect(fake.chatRequests()).toHaveLength(0);
    });
  },
);

describe('provider specifics against the fakes', () => {
  const fakes: Partial<Record<ProviderId, FakeProvider>> = {};
  beforeAll(async () => {
    fakes.openai = await createOpenAiFake().start();
    fakes.cerebras = await createCerebrasFake().start();
    fakes.groq = await createGroqFake().start();
  });
  afterAll(async () => {
    await Promise.all(Object.values(fakes).map((fake) => fake.close()));
  });

  function ctxFor(id: ProviderId, fake: FakeProvider, baseUrl: string, model: string): MapContext {
    return mapContext(id, {
      model,
      deployment: { ...LIMITS, reasoningEffort: undefined },
      config: { baseUrl, apiKey: fake.apiKey },
    });
  }
  const hello: ChatCompletionRequest = { model: 'm', messages: [{ role: 'user', content: 'Hi' }] };

  it('OpenAI: n > 1 streams several choices, each part carrying its choice, and usage only when asked', async () => {
    const fake = fakes.openai!;
    const ctx = ctxFor('openai', fake, openAiBaseUrl(fake), 'gpt-6-luna');
    const sent = await send(
      openaiAdapter.buildChatRequest({ ...hello, n: 2, max_tokens: 3, stream: true }, true, ctx),
    );
    const parts = await collect(openaiAdapter, sent, ctx);
    expect(textOf(parts, 0)).toBe('Hello hello hello');
    expect(textOf(parts, 1)).toBe('Hello hello hello');
    expect(
      parts
        .filter((p) => p.type === 'finish')
        .map((p) => (p as { choice: number }).choice)
        .sort(),
    ).toEqual([0, 1]);
    expect(parts.filter((p) => p.type === 'usage')).toHaveLength(1);
    expect(fake.chatRequests().at(-1)!.body).toMatchObject({ n: 2, stream_options: { include_usage: true } });

    // The fake follows OpenAI: no usage chunk unless include_usage was asked.
    const raw = await request(`${openAiBaseUrl(fake)}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-6-luna', messages: hello.messages, stream: true }),
    });
    expect(await raw.body.text()).not.toContain('"prompt_tokens"');
  });

  it('OpenAI fake refuses max_tokens like a reasoning model', async () => {
    const fake = fakes.openai!;
    const sent = await send({
      method: 'POST',
      url: `${openAiBaseUrl(fake)}/chat/completions`,
      headers: { authorization: `Bearer ${fake.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-6-luna', messages: hello.messages, max_tokens: 5 }),
    });
    expect(await failureOf(openaiAdapter, sent)).toMatchObject({
      kind: 'client',
      status: 400,
      param: 'max_tokens',
    });
  });

  it('Cerebras: no-op defaults of its unsupported fields are left out, so it accepts the request', async () => {
    const fake = fakes.cerebras!;
    const ctx = ctxFor('cerebras', fake, cerebrasBaseUrl(fake), 'qwen-3.8-27b');
    const sent = await send(
      cerebrasAdapter.buildChatRequest(
        {
          ...hello,
          frequency_penalty: 0,
          presence_penalty: 0,
          parallel_tool_calls: true,
          store: true,
          verbosity: 'low',
        },
        false,
        ctx,
      ),
    );
    expect(sent.status).toBe(200);
    const raw = (await sent.res.body.json()) as Record<string, unknown>;
    expect(raw.time_info).toBeDefined();
    expect(cerebrasAdapter.parseChatResponse(raw, ctx).choices[0].content).toMatch(/^Hello/);
  });

  it('Cerebras: the flat 400 and 404 bodies are read', async () => {
    const fake = fakes.cerebras!;
    const sent = await send({
      method: 'POST',
      url: `${cerebrasBaseUrl(fake)}/chat/completions`,
      headers: { authorization: `Bearer ${fake.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-oss-120b', messages: hello.messages, presence_penalty: 1 }),
    });
    const body = await sent.res.body.text();
    expect(JSON.parse(body)).not.toHaveProperty('error');
    expect(cerebrasAdapter.mapError(sent.status, body, sent.headers)).toMatchObject({
      kind: 'client',
      status: 400,
      param: 'presence_penalty',
    });

    fake.addFault({ kind: 'status', status: 404 });
    const ctx = ctxFor('cerebras', fake, cerebrasBaseUrl(fake), 'llama-3.3-70b');
    const missing = await send(cerebrasAdapter.buildChatRequest(hello, false, ctx));
    expect(await failureOf(cerebrasAdapter, missing)).toMatchObject({
      kind: 'retryable',
      status: 404,
      code: 'model_not_found',
      param: 'model',
    });
  });

  it('Groq: 498 capacity_exceeded is retryable; its own 400s are refused before it sees them', async () => {
    const fake = fakes.groq!;
    const ctx = ctxFor('groq', fake, groqBaseUrl(fake), 'openai/gpt-oss-20b');
    fake.addFault({ kind: 'status', status: 498 });
    const sent = await send(groqAdapter.buildChatRequest(hello, false, ctx));
    expect(sent.status).toBe(498);
    expect(await failureOf(groqAdapter, sent)).toMatchObject({
      kind: 'retryable',
      code: 'capacity_exceeded',
    });

    const raw = await send({
      method: 'POST',
      url: `${groqBaseUrl(fake)}/chat/completions`,
      headers: { authorization: `Bearer ${fake.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-oss-20b', messages: hello.messages, logprobs: false }),
    });
    expect(await failureOf(groqAdapter, raw)).toMatchObject({
      kind: 'client',
      status: 400,
      param: 'logprobs',
    });
    const viaAdapter = await send(
      groqAdapter.buildChatRequest({ ...hello, logprobs: false, n: 1 }, false, ctx),
    );
    expect(viaAdapter.status).toBe(200);
    await viaAdapter.res.body.dump();
  });
});
