import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { call } from '../support/app.js';
import { liveAccount, MICRO, money, setBalance } from '../support/billing.js';
import { useGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { modelStatus, status } from './support.js';

const hi = [{ role: 'user' as const, content: 'hi' }];

/** What a customer sends: the OpenAI body plus the gateway's own fields, as the Node SDK passes them through. */
interface Steered {
  model?: string;
  models?: string[];
  provider?: Record<string, unknown>;
  stream?: boolean;
  max_tokens?: number;
}

/**
 * Routing the customer steers (`provider`, `models`), seen from outside: which provider served (the
 * `x-conflux-*` headers), which fakes were called, the 400s and 503s. Probes run once at start and circuits need
 * many failures, so every failure below is met by the request itself.
 */
describe('provider preferences and models', () => {
  const clock = new ManualClock();
  const r = useGateway({
    env: { HEALTH_PROBE_INTERVAL_MS: '600000', BREAKER_FAILURE_THRESHOLD: '1000' },
    clock,
  });

  const calls = () => Object.fromEntries(r.fakes.all.map((f) => [f.name, f.chatRequests().length]));

  async function ask(body: Steered, client: OpenAI = r.live) {
    const params = {
      messages: hi,
      max_tokens: 3,
      ...body,
    } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming;
    const { data, response } = await client.chat.completions.create(params).withResponse();
    return {
      body: data,
      provider: response.headers.get('x-conflux-provider'),
      model: response.headers.get('x-conflux-model'),
      attempts: Number(response.headers.get('x-conflux-attempts')),
    };
  }

  async function askStream(body: Steered) {
    const params = {
      messages: hi,
      max_tokens: 3,
      ...body,
      stream: true,
    } as unknown as OpenAI.ChatCompletionCreateParamsStreaming;
    const { data, response } = await r.live.chat.completions.create(params).withResponse();
    let text = '';
    for await (const chunk of data) {
      text += chunk.choices[0]?.delta.content ?? '';
    }
    return {
      text,
      provider: response.headers.get('x-conflux-provider'),
      model: response.headers.get('x-conflux-model'),
    };
  }

  async function refused(
    body: Steered,
    client: OpenAI = r.live,
  ): Promise<InstanceType<typeof OpenAI.APIError>> {
    const error = await ask(body, client).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.APIError);
    return error as InstanceType<typeof OpenAI.APIError>;
  }

  it('by default serves openai/gpt-oss-120b at Groq, the cheaper', async () => {
    expect((await ask({ model: 'openai/gpt-oss-120b' })).provider).toBe('groq');
  });

  it('only: serves at the one provider listed, streamed or not, and never calls the other', async () => {
    const json = await ask({ model: 'openai/gpt-oss-120b', provider: { only: ['cerebras'] } });
    expect(json).toMatchObject({ provider: 'cerebras', model: 'openai/gpt-oss-120b', attempts: 1 });
    const stream = await askStream({ model: 'openai/gpt-oss-120b', provider: { only: ['cerebras'] } });
    expect(stream).toMatchObject({ provider: 'cerebras', text: 'Hello hello hello' });
    expect(calls()).toMatchObject({ groq: 0, cerebras: 2 });
  });

  it('order: tries the listed provider first, then the usual chain', async () => {
    expect((await ask({ model: 'openai/gpt-oss-120b', provider: { order: ['cerebras'] } })).provider).toBe(
      'cerebras',
    );
    r.fakes.cerebras.addFault({ kind: 'status', status: 503 });
    const failedOver = await ask({ model: 'openai/gpt-oss-120b', provider: { order: ['cerebras'] } });
    expect(failedOver).toMatchObject({ provider: 'groq', attempts: 2 });
    r.fakes.cerebras.addFault({ kind: 'status', status: 503 });
    expect(
      await askStream({ model: 'openai/gpt-oss-120b', provider: { order: ['cerebras'] } }),
    ).toMatchObject({
      provider: 'groq',
      text: 'Hello hello hello',
    });
  });

  it('ignore: never uses the listed provider, not even when the others fail', async () => {
    expect((await ask({ model: 'openai/gpt-oss-120b', provider: { ignore: ['groq'] } })).provider).toBe(
      'cerebras',
    );
    expect(await askStream({ model: 'openai/gpt-oss-120b', provider: { ignore: ['groq'] } })).toMatchObject({
      provider: 'cerebras',
      text: 'Hello hello hello',
    });
    r.fakes.cerebras.addFault({ kind: 'status', status: 500 });
    // the same model nowhere else: its fallback model, still not at Groq (openai/gpt-oss-20b is only at Groq)
    const error = await refused({ model: 'openai/gpt-oss-120b', provider: { ignore: ['groq'] } });
    expect(error.status).toBe(503);
    expect(calls()).toMatchObject({ groq: 0 });
  });

  it('allow_fallbacks false: a pinned provider that fails is a 503, and no other provider is called', async () => {
    r.fakes.groq.addFault({ kind: 'status', status: 500 }, { times: 2 });
    const error = await refused({
      model: 'openai/gpt-oss-120b',
      provider: { only: ['groq'], allow_fallbacks: false },
    });
    expect(error.status).toBe(503);
    expect(error.headers?.get('x-conflux-attempts')).toBe('1');
    const streamed = await askStream({
      model: 'openai/gpt-oss-120b',
      provider: { order: ['groq'], allow_fallbacks: false },
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((streamed as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect(calls()).toEqual({ openai: 0, anthropic: 0, gemini: 0, cerebras: 0, groq: 2 });
  });

  it('allow_fallbacks false without order or only: the model at any of its providers, but no fallback model', async () => {
    r.fakes.openai.addFault({ kind: 'status', status: 500 });
    const error = await refused({ model: 'gpt-6-luna', provider: { allow_fallbacks: false } });
    expect(error.status).toBe(503);
    expect(calls()).toMatchObject({ openai: 1, anthropic: 0 });
  });

  it('models: the list replaces the catalog’s fallbacks, streamed or not', async () => {
    r.fakes.openai.addFault({ kind: 'down' }, { times: 2 });
    const json = await ask({ model: 'gpt-6-luna', models: ['gpt-6-luna', 'gemini-3.8-flash'] });
    expect(json).toMatchObject({ provider: 'gemini', model: 'gemini-3.8-flash', attempts: 2 });
    expect(json.body.model).toBe('gemini-3.8-flash');
    const stream = await askStream({ models: ['gpt-6-luna', 'gemini-3.8-flash'] });
    expect(stream).toMatchObject({ provider: 'gemini', model: 'gemini-3.8-flash' });
    // gpt-6-luna's catalog fallback (claude-haiku-5-5 at Anthropic) was not used
    expect(calls()).toMatchObject({ openai: 2, gemini: 2, anthropic: 0 });
  });

  it('models with provider.only: a listed model the provider does not serve is passed over', async () => {
    const res = await ask({
      models: ['gpt-oss-120b', 'gpt-6-luna'],
      provider: { only: ['cerebras', 'openai'] },
    });
    expect(res).toMatchObject({ provider: 'cerebras', model: 'gpt-oss-120b' });
  });

  it('refuses an unknown or impossible choice with a 400 naming it: no provider called, nothing held', async () => {
    const fresh = await liveAccount(r.t);
    const client = new OpenAI({ baseURL: `${r.t.url}/v1`, apiKey: fresh.key, maxRetries: 0 });
    const cases: Array<[Steered, number, string]> = [
      [{ model: 'gpt-6-luna', provider: { only: ['openrouter'] } }, 400, 'provider.only[0]'],
      [{ model: 'gpt-6-luna', provider: { order: ['openai', 'azure'] } }, 400, 'provider.order[1]'],
      [{ model: 'gpt-6-luna', provider: { allow_fallbacks: 'no' } }, 400, 'provider.allow_fallbacks'],
      [{ model: 'gpt-6-luna', provider: { sort: 'fastest' } }, 400, 'provider.sort'],
      [{ model: 'gpt-6-luna', provider: { only: ['groq'] } }, 400, 'provider.only'],
      [{ model: 'gpt-6-luna', provider: { ignore: ['openai'] } }, 400, 'provider.ignore'],
      [{ model: 'gpt-6-luna', provider: { order: ['groq'], allow_fallbacks: false } }, 400, 'provider.order'],
      [{ model: 'gpt-6-luna', models: ['gpt-6-luna', 'gpt-7'] }, 404, 'models[1]'],
      [{ model: 'gpt-6-luna', models: ['gemini-3.8-flash'] }, 400, 'models[0]'],
    ];
    for (const [body, statusCode, param] of cases) {
      const error = await refused(body, client);
      expect({ status: error.status, param: error.param }).toEqual({ status: statusCode, param });
    }
    expect(Object.values(calls()).every((n) => n === 0)).toBe(true);
    expect(await money(r.t, fresh.accountId)).toMatchObject({ held: 0n, holds: 0 });
  });

  it('holds credit for the dearest provider the request may actually go to', async () => {
    // 30,000 output tokens of gpt-oss-120b (and its fallbacks): 2.25 credits at Cerebras, 1.80 at Groq.
    const fresh = await liveAccount(r.t);
    await setBalance(r.t, fresh.accountId, 2n * MICRO);
    const client = new OpenAI({ baseURL: `${r.t.url}/v1`, apiKey: fresh.key, maxRetries: 0 });
    const error = await refused({ model: 'gpt-oss-120b', max_tokens: 30_000 }, client);
    expect(error.status).toBe(402);
    const pinned = await ask(
      { model: 'gpt-oss-120b', max_tokens: 30_000, provider: { only: ['groq'] } },
      client,
    );
    expect(pinned.provider).toBe('groq');
    expect(calls()).toMatchObject({ groq: 1, cerebras: 0 });
  });

  it('test keys accept and validate the same fields', async () => {
    const res = await ask({ model: 'openai/gpt-oss-120b', provider: { only: ['cerebras'] } }, r.test);
    expect(res.provider).toBe('cerebras');
    const models = await ask({ models: ['gpt-6-luna', 'gemini-3.8-flash'] }, r.test);
    expect(models.model).toBe('gpt-6-luna');
    const error = await refused({ model: 'gpt-6-luna', provider: { only: ['groq'] } }, r.test);
    expect({ status: error.status, param: error.param }).toEqual({ status: 400, param: 'provider.only' });
    expect(Object.values(calls()).every((n) => n === 0)).toBe(true);
  });

  it('require_parameters: a knob the serving provider cannot take is a 400 instead of being left out', async () => {
    // Claude cannot take temperature: left out (and said so), or refused when the request requires parameters.
    const { response } = await r.live.chat.completions
      .create({ model: 'claude-haiku-5-5', messages: hi, max_tokens: 3, temperature: 0.5 })
      .withResponse();
    expect(response.headers.get('x-conflux-dropped-params')).toBe('temperature');
    const error = await refused({
      model: 'claude-haiku-5-5',
      provider: { require_parameters: true },
      ...{ temperature: 0.5 },
    } as Steered);
    expect({ status: error.status, param: error.param }).toEqual({ status: 400, param: 'temperature' });
  });

  it('sort latency: the provider measured faster comes first; the default stays the cheaper', async () => {
    // qwen-3.8-27b: Cerebras is the cheaper. Make its answers take 2 s on the gateway's clock.
    r.fakes.cerebras.addFault({ kind: 'slow', ms: 300 }, { times: 3 });
    for (let i = 0; i < 3; i++) {
      const pending = ask({ model: 'qwen-3.8-27b', provider: { only: ['cerebras'] } });
      await waitFor(() => r.fakes.cerebras.chatRequests().length === i + 1, 5_000, 'the request at Cerebras');
      clock.advance(2_000);
      expect((await pending).provider).toBe('cerebras');
    }
    expect((await ask({ model: 'qwen-3.8-27b', provider: { only: ['groq'] } })).provider).toBe('groq');

    const body = (await status(r.t)) as { models: unknown[] };
    const qwen = modelStatus(body, 'qwen-3.8-27b') as { providers: Array<Record<string, unknown>> };
    const of = (p: string) => qwen.providers.find((d) => d.provider === p)!;
    expect(of('cerebras').ttft_ms as number).toBeGreaterThanOrEqual(1_000);
    expect(of('groq').ttft_ms as number).toBeLessThan(1_000);
    expect(of('groq').latency_source).toBe('traffic');

    expect((await ask({ model: 'qwen-3.8-27b', provider: { sort: 'latency' } })).provider).toBe('groq');
    expect((await ask({ model: 'qwen-3.8-27b' })).provider).toBe('cerebras');
    expect((await ask({ model: 'qwen-3.8-27b', provider: { sort: 'price' } })).provider).toBe('cerebras');
  });

  it('documents the fields in the API reference', async () => {
    const res = await call(r.t, 'GET', '/openapi.json');
    expect(res.status).toBe(200);
    const spec = res.body as {
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    const request = spec.components.schemas.CreateChatCompletionRequest;
    expect(request.properties).toHaveProperty('provider');
    expect(request.properties).toHaveProperty('models');
    expect(Object.keys(spec.components.schemas.ProviderPreferences.properties ?? {})).toEqual([
      'order',
      'only',
      'ignore',
      'allow_fallbacks',
      'sort',
      'require_parameters',
    ]);
  });
});
