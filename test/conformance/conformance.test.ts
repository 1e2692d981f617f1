import { beforeAll, describe, expect, it } from 'vitest';
import { call, PNG_DATA_URI, rawChat, useGateway, WEATHER_TOOL, type Gateway } from '../chat/support.js';
import { describeErrors, loadOpenAiSpec } from './openai-spec.js';

/**
 * Conformance with OpenAI's own schema of record (its subset, copied into openai-spec/ beside this file): every
 * non-streaming answer, every stream chunk and every error body the gateway produces — across all 16 models and
 * five providers, test keys, and the error scenarios — and /v1/models and /v1/models/{id}. Bodies are read raw
 * (fetch), not through the SDK, so nothing is smoothed over.
 *
 * A missing spec file fails this suite (loadOpenAiSpec throws at import).
 */
const spec = loadOpenAiSpec();

const RESPONSE = 'CreateChatCompletionResponse';
const CHUNK = 'CreateChatCompletionStreamResponse';
const ERROR = 'ErrorResponse';
const LIST = 'ListModelsResponse';
const MODEL = 'Model';

/** How many objects were validated per schema: the suite must really have seen each kind. */
const validated = new Map<string, number>();

function conform(schema: string, value: unknown, label: string): void {
  const validate = spec.validator(schema);
  const ok = validate(value);
  expect(
    ok,
    `${label} does not conform to ${schema}:\n${describeErrors(validate.errors)}\n${JSON.stringify(value).slice(0, 1500)}`,
  ).toBe(true);
  validated.set(schema, (validated.get(schema) ?? 0) + 1);
}

/** Provider-specific extras must not leak into OpenAI objects (the spec allows extras; our contract does not). */
const LEAKS = ['x_groq', 'time_info', 'usageMetadata', 'stop_reason', 'candidates', 'obfuscation'];

function noLeaks(value: Record<string, unknown>, label: string): void {
  for (const key of LEAKS) {
    expect(value, `${label} leaks the provider field ${key}`).not.toHaveProperty(key);
  }
}

interface Exchange {
  status: number;
  headers: Headers;
  body: any;
}

async function post(
  g: Gateway,
  key: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Exchange> {
  return call(g.t, 'POST', '/v1/chat/completions', body, key, headers);
}

function completion(res: Exchange, label: string): void {
  expect(res.status, `${label}: ${JSON.stringify(res.body).slice(0, 500)}`).toBe(200);
  expect(res.headers.get('content-type') ?? '', `${label}: content-type`).toMatch(/^application\/json/);
  conform(RESPONSE, res.body, label);
  noLeaks(res.body, label);
}

function errorAnswer(
  res: Exchange,
  status: number,
  label: string,
  options: { requestId?: boolean } = {},
): void {
  expect(res.status, `${label}: ${JSON.stringify(res.body).slice(0, 500)}`).toBe(status);
  expect(res.headers.get('content-type') ?? '', `${label}: content-type`).toMatch(/^application\/json/);
  conform(ERROR, res.body, label);
  if (options.requestId !== false) {
    expect(res.headers.get('x-request-id') ?? '', `${label}: x-request-id`).toMatch(/\S/);
  }
}

function postForm(g: Gateway): Promise<Exchange> {
  return call(g.t, 'POST', '/v1/chat/completions', 'model=gpt-6-luna', g.liveKey, {
    'content-type': 'application/x-www-form-urlencoded',
  });
}

/** Validates every chunk of a raw stream; returns the parsed chunks (an error frame last, if any). */
async function streamed(
  g: Gateway,
  key: string,
  body: Record<string, unknown>,
  label: string,
  headers: Record<string, string> = {},
): Promise<{ chunks: any[]; done: boolean; error?: any }> {
  const raw = await rawChat(g.t, key, { ...body, stream: true }, headers);
  expect(raw.status, `${label}: ${raw.text.slice(0, 500)}`).toBe(200);
  expect(raw.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const done = raw.data.at(-1) === '[DONE]';
  const chunks: any[] = [];
  let error: any;
  for (const [i, data] of raw.data.entries()) {
    if (data === '[DONE]') {
      expect(i, `${label}: [DONE] is the last frame`).toBe(raw.data.length - 1);
      continue;
    }
    const parsed = JSON.parse(data);
    if ('error' in parsed) {
      expect(i, `${label}: an error frame ends the stream`).toBe(raw.data.length - 1);
      conform(ERROR, parsed, `${label} error frame`);
      error = parsed;
      continue;
    }
    conform(CHUNK, parsed, `${label} chunk ${i}`);
    noLeaks(parsed, `${label} chunk ${i}`);
    chunks.push(parsed);
  }
  return { chunks, done, error };
}

const hi = [{ role: 'user' as const, content: 'Say hello' }];

describe('conformance with the OpenAI spec', () => {
  const g = useGateway();
  let models: string[];
  beforeAll(async () => {
    const list = await call(g.t, 'GET', '/v1/models', undefined, g.liveKey);
    models = (list.body?.data ?? []).map((m: { id: string }) => m.id);
  });

  it('the spec subset has the schemas the suite needs, and none of them forbids our extensions', () => {
    expect(spec.document.openapi).toMatch(/^3\.1/);
    for (const name of [RESPONSE, CHUNK, ERROR, LIST, MODEL, 'CompletionUsage']) {
      expect(spec.schemas[name], name).toBeDefined();
    }
    // usage.cost_credits (our extension) and extra headers are allowed as long as no schema an answer goes through
    // sets additionalProperties: false. Report the ones that do, if the spec ever changes.
    const closed = spec
      .reachable([RESPONSE, CHUNK, ERROR, LIST, MODEL])
      .filter((name) => JSON.stringify(spec.schemas[name]).includes('"additionalProperties":false'));
    expect(closed).toEqual([]);
  });

  it('GET /v1/models and GET /v1/models/{id} for all 16 models', async () => {
    const list = await call(g.t, 'GET', '/v1/models', undefined, g.liveKey);
    expect(list.status).toBe(200);
    conform(LIST, list.body, 'GET /v1/models');
    expect(models).toHaveLength(16);
    for (const model of list.body.data) {
      conform(MODEL, model, `GET /v1/models item ${model.id}`);
    }
    for (const id of models) {
      const one = await call(g.t, 'GET', `/v1/models/${encodeURIComponent(id)}`, undefined, g.liveKey);
      expect(one.status, `GET /v1/models/${id}`).toBe(200);
      conform(MODEL, one.body, `GET /v1/models/${id}`);
      expect(one.body.id).toBe(id);
    }
    // the SDK's own call for an id with a slash
    const retrieved = await g.live.models.retrieve('openai/gpt-oss-20b');
    expect(retrieved.id).toBe('openai/gpt-oss-20b');
    errorAnswer(
      await call(g.t, 'GET', '/v1/models/no-such-model', undefined, g.liveKey),
      404,
      'unknown model',
    );
    errorAnswer(await call(g.t, 'GET', '/v1/models'), 401, 'GET /v1/models without a key');
  });

  it('every model: a plain answer and a stream with include_usage', async () => {
    for (const model of models) {
      completion(await post(g, g.liveKey, { model, messages: hi, max_tokens: 3 }), `${model} json`);
      const { chunks, done } = await streamed(
        g,
        g.liveKey,
        { model, messages: hi, max_tokens: 3, stream_options: { include_usage: true } },
        `${model} stream`,
      );
      expect(done, `${model} stream ends with [DONE]`).toBe(true);
      expect(chunks.at(-1).choices).toEqual([]);
      expect(chunks.at(-1).usage.cost_credits).toMatch(/^\d+(\.\d+)?$/);
    }
  });

  const FEATURE_MODELS = [
    { model: 'gpt-6-luna', images: true },
    { model: 'claude-haiku-5-5', images: true },
    { model: 'gemini-3.8-flash', images: true },
    { model: 'gpt-oss-120b', images: false },
    { model: 'qwen-3.8-27b', images: false }, // Cerebras, whichever way the router orders deployments
    { model: 'openai/gpt-oss-20b', images: false },
  ];

  it('tools, tool results, JSON schema, images, n > 1, streams without usage: every provider', async () => {
    const providers = new Set<string>();
    for (const { model, images } of FEATURE_MODELS) {
      const tools = [WEATHER_TOOL];
      const first = await post(g, g.liveKey, {
        model,
        messages: [{ role: 'user', content: 'Weather?' }],
        tools,
      });
      completion(first, `${model} tool call`);
      providers.add(first.headers.get('x-conflux-provider') ?? '');
      const message = first.body.choices[0].message;
      expect(message.tool_calls, `${model} answers with a tool call`).toHaveLength(1);
      completion(
        await post(g, g.liveKey, {
          model,
          tools,
          messages: [
            { role: 'user', content: 'Weather?' },
            message,
            { role: 'tool', tool_call_id: message.tool_calls[0].id, content: 'sunny' },
          ],
        }),
        `${model} tool result`,
      );
      const toolStream = await streamed(
        g,
        g.liveKey,
        { model, messages: [{ role: 'user', content: 'Weather?' }], tools },
        `${model} tool stream`,
      );
      expect(toolStream.done).toBe(true);
      completion(
        await post(g, g.liveKey, {
          model,
          messages: hi,
          response_format: {
            type: 'json_schema',
            json_schema: { name: 'r', schema: { type: 'object', properties: { ok: { type: 'boolean' } } } },
          },
        }),
        `${model} json_schema`,
      );
      if (images) {
        completion(
          await post(g, g.liveKey, {
            model,
            max_tokens: 2,
            messages: [
              {
                role: 'user',
                content: [
                  { type: 'text', text: 'What is this?' },
                  { type: 'image_url', image_url: { url: PNG_DATA_URI, detail: 'low' } },
                ],
              },
            ],
          }),
          `${model} image`,
        );
      } else {
        errorAnswer(
          await post(g, g.liveKey, {
            model,
            messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: PNG_DATA_URI } }] }],
          }),
          400,
          `${model} image refused`,
        );
      }
      const plain = await streamed(g, g.liveKey, { model, messages: hi, max_tokens: 2 }, `${model} stream`);
      expect(plain.chunks.every((c) => !('usage' in c))).toBe(true);
    }
    expect([...providers].sort()).toEqual(['anthropic', 'cerebras', 'gemini', 'groq', 'openai']);

    // several choices, where the provider has them
    for (const model of ['gpt-6-luna', 'gemini-3.8-flash']) {
      const many = await post(g, g.liveKey, { model, messages: hi, max_tokens: 2, n: 2 });
      completion(many, `${model} n=2`);
      expect(many.body.choices.map((c: { index: number }) => c.index)).toEqual([0, 1]);
      const { chunks } = await streamed(
        g,
        g.liveKey,
        { model, messages: hi, max_tokens: 2, n: 2 },
        `${model} n=2`,
      );
      expect(new Set(chunks.map((c) => c.choices[0].index))).toEqual(new Set([0, 1]));
    }
  });

  it('mid-stream failures: the error frame of every provider', async () => {
    for (const [fake, model] of [
      [g.fakes.openai, 'gpt-6-luna'],
      [g.fakes.anthropic, 'claude-haiku-5-5'],
      [g.fakes.gemini, 'gemini-3.8-flash'],
      [g.fakes.cerebras, 'qwen-3.8-27b'],
      [g.fakes.groq, 'openai/gpt-oss-20b'],
    ] as const) {
      for (const kind of ['stream_error', 'cut'] as const) {
        fake.addFault({ kind, afterChunks: 2 });
        const { done, error } = await streamed(
          g,
          g.liveKey,
          { model, messages: hi, max_tokens: 6 },
          `${model} ${kind}`,
        );
        expect(done).toBe(false);
        expect(error, `${model} ${kind} ends with an error frame`).toBeDefined();
        fake.clearFaults();
      }
    }
  });

  it('test keys: answers, streams, tool calls, failover', async () => {
    completion(await post(g, g.testKey, { model: 'gpt-6-luna', messages: hi }), 'test key json');
    completion(
      await post(g, g.testKey, { model: 'gpt-6-luna', messages: hi }, { 'x-conflux-mock': 'failover' }),
      'test key failover',
    );
    completion(
      await post(g, g.testKey, { model: 'gpt-6-luna', messages: hi, tools: [WEATHER_TOOL] }),
      'test key tool call',
    );
    completion(await post(g, g.testKey, { model: 'gpt-6-luna', messages: hi, n: 2 }), 'test key n=2');
    for (const body of [
      { model: 'claude-haiku-5-5', messages: hi, stream_options: { include_usage: true } },
      { model: 'claude-haiku-5-5', messages: hi, tools: [WEATHER_TOOL] },
    ]) {
      const { done } = await streamed(g, g.testKey, body, 'test key stream');
      expect(done).toBe(true);
    }
  });

  it('error bodies: every class the gateway answers', async () => {
    errorAnswer(await post(g, g.liveKey, { model: 'no-such-model', messages: hi }), 404, 'unknown model');
    errorAnswer(await post(g, 'cf_live_not-a-key', { model: 'gpt-6-luna', messages: hi }), 401, 'bad key');
    errorAnswer(
      await call(g.t, 'POST', '/v1/chat/completions', { model: 'gpt-6-luna', messages: hi }),
      401,
      'no key',
    );
    errorAnswer(
      await post(g, g.liveKey, { model: 'gpt-6-luna', messages: hi, temperature: 5 }),
      400,
      'temperature 5',
    );
    errorAnswer(await post(g, g.liveKey, { model: 'gpt-6-luna', messages: [] }), 400, 'no messages');
    errorAnswer(await post(g, g.liveKey, { messages: hi }), 400, 'no model');
    errorAnswer(await post(g, g.liveKey, '{"model": "gpt-6-luna", '), 400, 'invalid JSON');
    errorAnswer(
      await post(
        g,
        g.liveKey,
        { model: 'gemini-3.5-flash-lite', messages: hi, presence_penalty: 1 },
        { 'x-conflux-strict-params': 'true' },
      ),
      400,
      'unsupported parameter (strict)',
    );
    errorAnswer(
      await post(g, g.liveKey, { model: 'gpt-6-luna', messages: hi, max_tokens: 10_000_000 }),
      400,
      'max_tokens over the max output',
    );
    errorAnswer(
      await post(g, g.liveKey, {
        model: 'openai/gpt-oss-20b',
        messages: [{ role: 'user', content: 'hello' + ' hello'.repeat(140_000) }],
      }),
      400,
      'context window',
    );
    errorAnswer(await postForm(g), 415, 'not JSON', { requestId: false }); // see the x-request-id test below
    errorAnswer(
      await post(g, g.testKey, { model: 'gpt-6-luna', messages: hi }, { 'x-conflux-mock': 'rate_limit' }),
      429,
      'mock rate limit',
    );
    errorAnswer(
      await post(g, g.testKey, { model: 'gpt-6-luna', messages: hi }, { 'x-conflux-mock': 'server_error' }),
      503,
      'mock server error',
    );

    // a provider refusing the request, relayed
    g.fakes.openai.addFault({ kind: 'status', status: 400 });
    errorAnswer(await post(g, g.liveKey, { model: 'gpt-6-luna', messages: hi }), 400, 'provider 400');

    // every provider failing, non-streaming and streaming, in each provider's native way
    g.fakes.openai.addFault({ kind: 'rate_limit' }, { times: Infinity });
    g.fakes.anthropic.addFault({ kind: 'status', status: 529 }, { times: Infinity });
    g.fakes.gemini.addFault({ kind: 'status', status: 503 }, { times: Infinity });
    g.fakes.cerebras.addFault({ kind: 'status', status: 500 }, { times: Infinity });
    g.fakes.groq.addFault({ kind: 'status', status: 498 }, { times: Infinity });
    for (const model of ['gpt-6-luna', 'gemini-3.8-flash', 'gpt-oss-120b']) {
      errorAnswer(await post(g, g.liveKey, { model, messages: hi }), 503, `${model} all failing`);
      errorAnswer(
        await post(g, g.liveKey, { model, messages: hi, stream: true }),
        503,
        `${model} stream all failing`,
      );
    }
  });

  it('a 415 answer carries x-request-id like every other error', async () => {
    errorAnswer(await postForm(g), 415, 'not JSON');
  });

  it('saw every kind of object', () => {
    for (const schema of [RESPONSE, CHUNK, ERROR, LIST, MODEL]) {
      expect(validated.get(schema) ?? 0, schema).toBeGreaterThan(0);
    }
    expect(validated.get(CHUNK)).toBeGreaterThan(100);
  });
});
