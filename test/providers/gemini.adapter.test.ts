import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { countTexts } from '../../src/common/tokens.js';
import { geminiAdapter } from '../../src/providers/gemini/gemini.adapter.js';
import type { ChatCompletionRequest } from '../../src/providers/openai-types.js';
import type {
  MapContext,
  NormalizedResponse,
  ProviderFailure,
  StreamPart,
  ToolCallState,
  UpstreamRequest,
} from '../../src/providers/types.js';
import type { FakeProvider } from '../fakes/base.js';
import { createGeminiFake, geminiBaseUrl } from '../fakes/gemini.js';
import { mapContext } from '../support/adapters.js';

let fake: FakeProvider;

function context(
  options: { model?: string; apiKey?: string; toolState?: Iterable<[string, ToolCallState]> } = {},
): MapContext {
  return mapContext('gemini', {
    model: options.model,
    deployment: { reasoningEffort: { low: 'LOW', high: 'HIGH' } },
    config: { baseUrl: geminiBaseUrl(fake), apiKey: options.apiKey ?? fake.apiKey },
    toolState: options.toolState,
  });
}

async function send(upstream: UpstreamRequest) {
  return request(upstream.url, { method: upstream.method, headers: upstream.headers, body: upstream.body });
}

/** Non-streaming call: the mapped answer, or the mapped failure for a non-2xx. */
async function chat(
  body: Partial<ChatCompletionRequest>,
  ctx = context(),
): Promise<{ ok: true; value: NormalizedResponse } | { ok: false; failure: ProviderFailure }> {
  const res = await send(geminiAdapter.buildChatRequest({ model: 'm', messages: [], ...body }, false, ctx));
  if (res.statusCode >= 300) {
    const text = await res.body.text();
    return {
      ok: false,
      failure: geminiAdapter.mapError(res.statusCode, text, res.headers as Record<string, string>),
    };
  }
  return { ok: true, value: geminiAdapter.parseChatResponse(await res.body.json(), ctx) };
}

/** Streaming call; `parts` may be passed in to keep what arrived before a broken body throws. */
async function stream(body: Partial<ChatCompletionRequest>, ctx = context(), parts: StreamPart[] = []) {
  const res = await send(geminiAdapter.buildChatRequest({ model: 'm', messages: [], ...body }, true, ctx));
  if (res.statusCode >= 300) {
    return {
      status: res.statusCode,
      failure: geminiAdapter.mapError(res.statusCode, await res.body.text(), {}),
      parts,
    };
  }
  for await (const part of geminiAdapter.parseStream(res.body, ctx)) {
    parts.push(part);
  }
  return { status: res.statusCode, parts, failure: undefined };
}

function textOf(parts: StreamPart[]): string {
  return parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
}

const hello = {
  messages: [
    { role: 'system' as const, content: 'Be brief.' },
    { role: 'user' as const, content: 'Hi there' },
  ],
};
const weatherTool: ChatCompletionRequest['tools'] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
    },
  },
];

beforeAll(async () => {
  fake = await createGeminiFake().start();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
});

describe('gemini adapter against the fake', () => {
  it('answers a plain chat with deterministic text and usage', async () => {
    const result = await chat({ ...hello, max_completion_tokens: 3 });
    expect(result.ok).toBe(true);
    if (!result.ok) {
      return;
    }
    expect(result.value.choices).toEqual([
      { index: 0, content: 'Hello hello hello', refusal: null, toolCalls: [], finishReason: 'stop' },
    ]);
    expect(result.value.usage).toMatchObject({
      prompt_tokens: countTexts(['Be brief.', 'Hi there']),
      completion_tokens: 3,
      total_tokens: countTexts(['Be brief.', 'Hi there']) + 3,
    });
    const [recorded] = fake.chatRequests();
    expect(recorded.path).toBe('/v1beta/models/gemini-3.8-flash:generateContent');
    expect(recorded.headers['x-goog-api-key']).toBe(fake.apiKey);
    expect(recorded.body).toMatchObject({
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      generationConfig: { maxOutputTokens: 3 },
    });
  });

  it('maps n to candidateCount and JSON mode to responseMimeType', async () => {
    const result = await chat({ ...hello, n: 2, response_format: { type: 'json_object' } });
    if (!result.ok) {
      throw new Error(result.failure.message);
    }
    expect(result.value.choices.map((c) => c.content)).toEqual(['{"ok":true}', '{"ok":true}']);
  });

  it('streams text over SSE with CRLF framing and cumulative usage', async () => {
    const { status, parts } = await stream({ ...hello, max_tokens: 4 });
    expect(status).toBe(200);
    expect(textOf(parts)).toBe('Hello hello hello hello');
    const usages = parts.filter((p) => p.type === 'usage');
    expect(usages).toHaveLength(4);
    expect(usages.at(-1)).toMatchObject({ usage: { completion_tokens: 4 } });
    expect(parts.at(-1)).toEqual({ type: 'finish', choice: 0, reason: 'stop' });
    expect(fake.chatRequests()[0].path).toBe('/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse');
  });

  it('frames the stream exactly as Google does: data-only, CRLF, no terminator', async () => {
    const upstream = geminiAdapter.buildChatRequest({ model: 'm', ...hello, max_tokens: 2 }, true, context());
    const res = await send(upstream);
    expect(res.headers['content-type']).toContain('text/event-stream');
    const raw = await res.body.text();
    const frames = raw.split('\r\n\r\n');
    expect(frames.at(-1)).toBe('');
    expect(frames.slice(0, -1).every((f) => f.startsWith('data: {'))).toBe(true);
    expect(raw).not.toContain('[DONE]');
    expect(raw).not.toContain('event:');
  });

  it('round-trips a tool call with its thought signature on a gemini-4 model', async () => {
    const ctx = context({ model: 'gemini-4-argon' });
    const question = { role: 'user' as const, content: 'Weather in Paris?' };
    const first = await chat({ messages: [question], tools: weatherTool, tool_choice: 'auto' }, ctx);
    if (!first.ok) {
      throw new Error(first.failure.message);
    }
    const [choice] = first.value.choices;
    expect(choice.finishReason).toBe('tool_calls');
    expect(choice.toolCalls).toHaveLength(1);
    const call = choice.toolCalls[0];
    expect(call.function).toEqual({ name: 'get_weather', arguments: '{"location":"Paris"}' });
    expect(first.value.toolState).toHaveLength(1);
    const [savedId, saved] = first.value.toolState[0];
    expect(savedId).toBe(call.id);
    expect(saved).toMatchObject({ provider: 'gemini', providerModel: 'gemini-4-argon' });
    expect(saved.thoughtSignature).toMatch(/^[A-Za-z0-9+/]+=*$/);

    const history = [
      question,
      { role: 'assistant' as const, content: null, tool_calls: [call] },
      { role: 'tool' as const, tool_call_id: call.id, content: '{"temp_c":21}' },
    ];
    const second = await chat(
      { messages: history, tools: weatherTool },
      context({ model: 'gemini-4-argon', toolState: first.value.toolState }),
    );
    if (!second.ok) {
      throw new Error(second.failure.message);
    }
    expect(second.value.choices[0]).toMatchObject({
      content: 'Hello hello hello hello hello hello hello hello',
      finishReason: 'stop',
    });
    const sent = fake.chatRequests()[1].body as { contents: Array<{ role: string; parts: unknown[] }> };
    expect(sent.contents[1].parts[0]).toMatchObject({ thoughtSignature: saved.thoughtSignature });
    expect(sent.contents[2]).toEqual({
      role: 'user',
      parts: [{ functionResponse: { id: call.id, name: 'get_weather', response: { temp_c: 21 } } }],
    });

    // Without the saved state (e.g. the call came from another provider), Gemini 4 refuses the history.
    const missing = await chat(
      { messages: history, tools: weatherTool },
      context({ model: 'gemini-4-argon' }),
    );
    expect(missing.ok).toBe(false);
    if (missing.ok) {
      return;
    }
    expect(missing.failure).toMatchObject({ kind: 'client', status: 400, type: 'INVALID_ARGUMENT' });
    expect(missing.failure.message).toContain('Function call is missing a thought_signature');
  });

  it('streams a tool call whole with its signature state', async () => {
    const { parts } = await stream({
      messages: [{ role: 'user', content: 'Weather?' }],
      tools: weatherTool,
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    const call = parts.find((p) => p.type === 'tool_call');
    expect(call).toMatchObject({
      type: 'tool_call',
      index: 0,
      name: 'get_weather',
      arguments: '{"location":"Paris"}',
      state: { provider: 'gemini', providerModel: 'gemini-3.8-flash' },
    });
    expect(parts.at(-1)).toEqual({ type: 'finish', choice: 0, reason: 'tool_calls' });
    expect(fake.chatRequests()[0].body).toMatchObject({
      toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } },
    });
  });

  it('maps a 429 to a retryable failure with the RetryInfo delay', async () => {
    fake.addFault({ kind: 'rate_limit', retryAfterSeconds: 37 });
    const result = await chat(hello);
    expect(result).toMatchObject({
      ok: false,
      failure: { kind: 'retryable', status: 429, type: 'RESOURCE_EXHAUSTED', retryAfterSeconds: 37 },
    });
  });

  it.each([500, 503, 504])(
    'maps a %i to a retryable failure (streaming: before the first byte)',
    async (status) => {
      fake.addFault({ kind: 'status', status });
      const result = await stream(hello);
      expect(result.status).toBe(status);
      expect(result.failure).toMatchObject({ kind: 'retryable', status });
    },
  );

  it('maps a 404 (model retired) to retryable', async () => {
    fake.addFault({ kind: 'status', status: 404 });
    expect(await chat(hello)).toMatchObject({ ok: false, failure: { kind: 'retryable', type: 'NOT_FOUND' } });
  });

  it('ends without a finish when the connection is cut mid-stream', async () => {
    fake.addFault({ kind: 'cut', afterChunks: 2 });
    const parts: StreamPart[] = [];
    try {
      await stream(hello, context(), parts);
    } catch {
      // undici may surface the reset as an error after the first chunks: also a broken stream
    }
    expect(textOf(parts)).toBe('Hello hello');
    expect(parts.some((p) => p.type === 'finish')).toBe(false);
    expect(parts.some((p) => p.type === 'error')).toBe(false);
  });

  it('turns the native mid-stream error body into an error part', async () => {
    fake.addFault({ kind: 'stream_error', afterChunks: 2 });
    const { status, parts } = await stream(hello);
    expect(status).toBe(200);
    expect(textOf(parts)).toBe('Hello hello');
    expect(parts.some((p) => p.type === 'finish')).toBe(false);
    expect(parts.at(-1)).toMatchObject({
      type: 'error',
      failure: { kind: 'retryable', status: 503, type: 'UNAVAILABLE' },
    });
  });

  it('maps a wrong key (400 API_KEY_INVALID) and a missing key (403) to auth', async () => {
    const wrong = await chat(hello, context({ apiKey: 'AIza-wrong' }));
    expect(wrong).toMatchObject({
      ok: false,
      failure: { kind: 'auth', status: 400, code: 'API_KEY_INVALID' },
    });
    const missing = await chat(hello, context({ apiKey: '' }));
    expect(missing).toMatchObject({
      ok: false,
      failure: { kind: 'auth', status: 403, type: 'PERMISSION_DENIED' },
    });
  });

  it('gets a 200 native model list from the probe', async () => {
    const res = await send(geminiAdapter.probeRequest(context().config));
    expect(res.statusCode).toBe(200);
    const body = (await res.body.json()) as { models: Array<{ name: string }>; nextPageToken?: string };
    expect(body.models).toHaveLength(1);
    expect(body.models[0].name).toMatch(/^models\//);
    expect(body.nextPageToken).toBeDefined();
    expect(fake.probeRequests()[0].path).toBe('/v1beta/models?pageSize=1');
  });

  it('reports a probe with a bad key as auth, not an outage', async () => {
    const res = await send(geminiAdapter.probeRequest({ ...context().config, apiKey: 'AIza-wrong' }));
    const failure = geminiAdapter.mapError(res.statusCode, await res.body.text(), {});
    expect(failure).toMatchObject({ kind: 'auth', status: 400 });
  });
});
