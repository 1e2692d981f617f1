import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { createKey } from '../support/app.js';
import { call, chatCount, fakeText, useGateway } from './support.js';

/**
 * Every error class a client can meet surfaces as the OpenAI SDK's matching exception, with the OpenAI envelope
 * (`type`, `code`, `param`) the SDK exposes. Requests the gateway can refuse on its own are refused before any
 * provider call; provider failures fail over, and only when nothing serves is there a 503.
 */
type ApiError = InstanceType<typeof OpenAI.APIError>;

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) {
    throw new Error(`expected an error, got ${JSON.stringify(outcome.value).slice(0, 300)}`);
  }
  expect(outcome.error).toBeInstanceOf(OpenAI.APIError);
  return outcome.error as ApiError;
}

const hi = [{ role: 'user' as const, content: 'hi' }];

describe('errors as the SDK’s exceptions', () => {
  const g = useGateway();

  it('unknown model → NotFoundError model_not_found (param model), no provider call', async () => {
    const error = await failure(g.live.chat.completions.create({ model: 'gpt-nonexistent', messages: hi }));
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error.status).toBe(404);
    expect(error.code).toBe('model_not_found');
    expect(error.param).toBe('model');
    expect(error.message).toContain('gpt-nonexistent');
    expect(error.requestID).toMatch(/\S/);
    expect(chatCount(g.fakes)).toBe(0);
  });

  it('a key that does not exist → AuthenticationError invalid_api_key', async () => {
    const stranger = new OpenAI({
      baseURL: `${g.t.url}/v1`,
      apiKey: 'cf_live_0000000000000000000000000000000000000',
      maxRetries: 0,
    });
    const error = await failure(stranger.chat.completions.create({ model: 'gpt-6-luna', messages: hi }));
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error.code).toBe('invalid_api_key');
    expect(chatCount(g.fakes)).toBe(0);
  });

  it('a revoked key → AuthenticationError at once (streaming too)', async () => {
    const created = await createKey(g.t, g.session, 'live');
    const revocable = new OpenAI({ baseURL: `${g.t.url}/v1`, apiKey: created.key, maxRetries: 0 });
    const ok = await revocable.chat.completions.create({ model: 'gpt-6-luna', messages: hi, max_tokens: 1 });
    expect(ok.choices[0].message.content).toBe('Hello');

    expect((await call(g.t, 'DELETE', `/v1/keys/${created.id}`, undefined, g.session)).status).toBe(200);
    g.fakes.reset();
    const error = await failure(revocable.chat.completions.create({ model: 'gpt-6-luna', messages: hi }));
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error.code).toBe('invalid_api_key');
    const streamed = await failure(
      revocable.chat.completions.create({ model: 'gpt-6-luna', messages: hi, stream: true }),
    );
    expect(streamed).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(chatCount(g.fakes)).toBe(0);
  });

  it('temperature 5 → BadRequestError naming temperature, never clamped, no provider call', async () => {
    const error = await failure(
      g.live.chat.completions.create({ model: 'gpt-6-luna', messages: hi, temperature: 5 }),
    );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.param).toBe('temperature');
    expect(error.type).toBe('invalid_request_error');
    expect(chatCount(g.fakes)).toBe(0);
  });

  it('a malformed body → BadRequestError naming the field', async () => {
    const error = await failure(
      g.live.chat.completions.create({
        model: 'gpt-6-luna',
        messages: [{ role: 'tool', content: 'orphan' } as never],
      }),
    );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.param).toMatch(/^messages/);
    expect(chatCount(g.fakes)).toBe(0);
  });

  const strict = { headers: { 'x-conflux-strict-params': 'true' } };

  it('strict: presence_penalty on gemini-3.5-flash-lite → BadRequestError naming it, no provider call', async () => {
    const error = await failure(
      g.live.chat.completions.create(
        { model: 'gemini-3.5-flash-lite', messages: hi, presence_penalty: 0.5 },
        strict,
      ),
    );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.param).toBe('presence_penalty');
    expect(error.message).toContain('presence_penalty');
    expect(chatCount(g.fakes)).toBe(0);
  });

  it('strict: temperature on claude-haiku-5-5 (a Claude 5.x model) → BadRequestError naming it', async () => {
    const error = await failure(
      g.live.chat.completions.create({ model: 'claude-haiku-5-5', messages: hi, temperature: 0.5 }, strict),
    );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.param).toBe('temperature');
    expect(chatCount(g.fakes)).toBe(0);
  });

  // A parameter the requested model refuses is a 400, never a reason to answer with its fallback model.
  it('strict: seed on claude-haiku-5-5 → BadRequestError naming seed, not another model', async () => {
    const error = await failure(
      g.live.chat.completions.create({ model: 'claude-haiku-5-5', messages: hi, seed: 42 }, strict),
    );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.param).toBe('seed');
    expect(chatCount(g.fakes)).toBe(0);
  });

  it('sampling knobs a model cannot take are left out and named in x-conflux-dropped-params, the model unchanged', async () => {
    const cases = [
      {
        model: 'claude-haiku-5-5',
        params: { temperature: 0.7, top_p: 0.9, seed: 42 },
        fake: g.fakes.anthropic,
      },
      {
        model: 'gemini-3.5-flash-lite',
        params: { presence_penalty: 0.5, frequency_penalty: 0.1 },
        fake: g.fakes.gemini,
      },
    ];
    for (const { model, params, fake } of cases) {
      fake.reset();
      const { data, response } = await g.live.chat.completions
        .create({ model, messages: hi, max_tokens: 3, ...params })
        .withResponse();
      expect(data.model).toBe(model);
      expect(response.headers.get('x-conflux-dropped-params')?.split(', ').sort()).toEqual(
        Object.keys(params).sort(),
      );
      const sent = JSON.stringify(fake.requests.find((r) => r.method === 'POST')?.body);
      for (const name of [
        'temperature',
        'top_p',
        'seed',
        'presence_penalty',
        'frequency_penalty',
        'presencePenalty',
      ]) {
        expect(sent).not.toContain(`"${name}"`);
      }
    }
    // what the model can take is sent, and nothing is said to be dropped
    const { response } = await g.live.chat.completions
      .create({ model: 'gpt-6-luna', messages: hi, max_tokens: 3, temperature: 0.7 })
      .withResponse();
    expect(response.headers.get('x-conflux-dropped-params')).toBeNull();
  });

  it('n: 2 on claude-opus-5-5 (Anthropic has no n) → BadRequestError naming n', async () => {
    const error = await failure(
      g.live.chat.completions.create({ model: 'claude-opus-5-5', messages: hi, n: 2 }),
    );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.param).toBe('n');
    expect(chatCount(g.fakes)).toBe(0);
  });

  it('a request over the context window → 400 context_length_exceeded before any provider call', async () => {
    // openai/gpt-oss-20b: 131,072 tokens; " hello" is one token
    const huge = 'hello' + ' hello'.repeat(140_000);
    const error = await failure(
      g.live.chat.completions.create({
        model: 'openai/gpt-oss-20b',
        messages: [{ role: 'user', content: huge }],
      }),
    );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.code).toBe('context_length_exceeded');
    expect(error.param).toBe('messages');
    expect(chatCount(g.fakes)).toBe(0);
  });

  it('prompt + max_tokens over the context window → 400 before any provider call', async () => {
    const error = await failure(
      g.live.chat.completions.create({
        model: 'openai/gpt-oss-20b',
        messages: [{ role: 'user', content: 'hello' + ' hello'.repeat(70_000) }],
        max_tokens: 65_536,
      }),
    );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.code).toBe('context_length_exceeded');
    expect(chatCount(g.fakes)).toBe(0);
  });

  it('max_tokens over the model’s max output → 400 naming it, before any provider call', async () => {
    for (const param of ['max_tokens', 'max_completion_tokens'] as const) {
      const error = await failure(
        g.live.chat.completions.create({ model: 'gpt-6-luna', messages: hi, [param]: 200_000 }),
      );
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error.param).toBe(param);
      expect(error.message).toContain('128000');
    }
    expect(chatCount(g.fakes)).toBe(0);
  });

  it('a provider 429 on one deployment fails over: the fallback model serves it', async () => {
    g.fakes.openai.addFault({ kind: 'rate_limit', retryAfterSeconds: 1 });
    const { data, response } = await g.live.chat.completions
      .create({ model: 'gpt-6-luna', messages: hi, max_tokens: 2 })
      .withResponse();
    expect(data.choices[0].message.content).toBe(fakeText(2));
    expect(data.model).toBe('claude-haiku-5-5');
    expect(response.headers.get('x-conflux-provider')).toBe('anthropic');
    expect(response.headers.get('x-conflux-model')).toBe('claude-haiku-5-5');
    expect(g.fakes.openai.chatRequests()).toHaveLength(1);
  });

  it('a provider 429 on every deployment and fallback → 503 InternalServerError, not a 429', async () => {
    for (const fake of g.fakes.all) {
      fake.addFault({ kind: 'rate_limit', retryAfterSeconds: 3 }, { times: Infinity });
    }
    const error = await failure(g.live.chat.completions.create({ model: 'gpt-6-luna', messages: hi }));
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(error.status).toBe(503);
    expect(error.type).toBe('service_unavailable_error');
    // the SDK must not retry what the gateway already retried, and may wait the provider's hint
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(Number(error.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(g.fakes.openai.chatRequests().length).toBeGreaterThan(0);
    expect(g.fakes.anthropic.chatRequests().length).toBeGreaterThan(0);

    const streamed = await failure(
      g.live.chat.completions.create({ model: 'gpt-6-luna', messages: hi, stream: true }),
    );
    expect(streamed).toBeInstanceOf(OpenAI.InternalServerError);
    expect(streamed.status).toBe(503);
  });

  it('a test key with x-conflux-mock: rate_limit → RateLimitError', async () => {
    const error = await failure(
      g.test.chat.completions.create(
        { model: 'gpt-6-luna', messages: hi },
        { headers: { 'x-conflux-mock': 'rate_limit' } },
      ),
    );
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error.code).toBe('rate_limit_exceeded');
    expect(chatCount(g.fakes)).toBe(0);
  });

  it('a test key with x-conflux-mock: server_error → InternalServerError', async () => {
    const error = await failure(
      g.test.chat.completions.create(
        { model: 'gpt-6-luna', messages: hi },
        { headers: { 'x-conflux-mock': 'server_error' } },
      ),
    );
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(chatCount(g.fakes)).toBe(0);
  });

  it('provider 5xx everywhere → InternalServerError (503), for Anthropic 529 and Gemini 500 too', async () => {
    g.fakes.anthropic.addFault({ kind: 'status', status: 529 }, { times: Infinity });
    g.fakes.openai.addFault({ kind: 'status', status: 500 }, { times: Infinity });
    g.fakes.gemini.addFault({ kind: 'status', status: 500 }, { times: Infinity });
    for (const model of ['claude-haiku-5-5', 'gemini-3.5-flash-lite']) {
      const error = await failure(g.live.chat.completions.create({ model, messages: hi }));
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      expect(error.status).toBe(503);
    }
    expect(g.fakes.anthropic.chatRequests().length).toBeGreaterThan(0);
    expect(g.fakes.gemini.chatRequests().length).toBeGreaterThan(0);
  });

  it('a provider that is down (connection refused/reset) fails over like a 5xx', async () => {
    g.fakes.cerebras.setDown();
    g.fakes.groq.setDown();
    const error = await failure(g.live.chat.completions.create({ model: 'gpt-oss-120b', messages: hi }));
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    g.fakes.cerebras.clearFaults();
    g.fakes.groq.clearFaults();
  });

  it('a provider 400 caused by the request is relayed as BadRequestError, without failing over', async () => {
    g.fakes.openai.addFault({
      kind: 'status',
      status: 400,
      body: JSON.stringify({
        error: {
          message: "Invalid 'messages[0].content': string too long.",
          type: 'invalid_request_error',
          param: 'messages[0].content',
          code: 'string_above_max_length',
        },
      }),
    });
    const error = await failure(g.live.chat.completions.create({ model: 'gpt-6-luna', messages: hi }));
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.param).toBe('messages[0].content');
    expect(error.message).toContain('string too long');
    expect(g.fakes.anthropic.chatRequests()).toHaveLength(0);
  });

  it('a non-streamed SDK call keeps its exceptions for streams: 404 before the first byte', async () => {
    const error = await failure(
      g.live.chat.completions.create({ model: 'nope', messages: hi, stream: true }),
    );
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
  });
});
