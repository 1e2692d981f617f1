import OpenAI, { AuthenticationError, NotFoundError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createKey, signup, startApp, type TestApp } from '../support/app.js';

const MODEL_KEYS = [
  'capabilities',
  'context_window',
  'created',
  'deployments',
  'fallback',
  'id',
  'max_output_tokens',
  'object',
  'owned_by',
  'pricing',
  'providers',
];

describe('GET /v1/models', () => {
  let t: TestApp;
  let key: string;
  let client: OpenAI;
  beforeAll(async () => {
    t = await startApp();
    const { token } = await signup(t);
    key = (await createKey(t, token, 'test')).key;
    client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: key, maxRetries: 0 });
  });
  afterAll(() => t.close());

  it('lists the 16 models in the OpenAI list shape, with providers, context, pricing and fallback', async () => {
    const res = await call(t, 'GET', '/v1/models', undefined, key);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body.object).toBe('list');
    expect(res.body.data).toHaveLength(16);
    for (const model of res.body.data) {
      expect(Object.keys(model).sort()).toEqual(MODEL_KEYS);
      expect(model).toMatchObject({ object: 'model', id: expect.any(String), owned_by: expect.any(String) });
      expect(Number.isInteger(model.created)).toBe(true);
      expect(model.providers.length).toBeGreaterThan(0);
      const { provider, ...prices } = model.pricing;
      expect(provider).toBe(model.providers[0]);
      for (const price of Object.values(prices)) {
        expect(price).toMatch(/^\d+(\.\d+)?$/);
      }
      expect(model.deployments.map((d: { provider: string }) => d.provider)).toEqual(model.providers);
    }
    const sol = res.body.data.find((m: { id: string }) => m.id === 'gpt-6.2-sol');
    expect(sol).toEqual({
      id: 'gpt-6.2-sol',
      object: 'model',
      created: 1794873600,
      owned_by: 'openai',
      context_window: 1_050_000,
      max_output_tokens: 128_000,
      providers: ['openai'],
      // $2 / $0.10 / $10 per 1M
      pricing: {
        provider: 'openai',
        input_credits_per_million_tokens: '200',
        cached_input_credits_per_million_tokens: '10',
        output_credits_per_million_tokens: '1000',
      },
      deployments: [
        {
          provider: 'openai',
          context_window: 1_050_000,
          max_output_tokens: 128_000,
          pricing: {
            provider: 'openai',
            input_credits_per_million_tokens: '200',
            cached_input_credits_per_million_tokens: '10',
            output_credits_per_million_tokens: '1000',
          },
        },
      ],
      fallback: 'claude-sonnet-5-5',
      capabilities: { tools: true, images: true, json_schema: true },
    });
    const oss = res.body.data.find((m: { id: string }) => m.id === 'openai/gpt-oss-20b');
    expect(oss.pricing).toEqual({
      provider: 'groq',
      input_credits_per_million_tokens: '7.5',
      cached_input_credits_per_million_tokens: '0.75',
      output_credits_per_million_tokens: '30',
    });
  });

  it('serves the OpenAI SDK: models.list() pages through every model', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) {
      expect(model.object).toBe('model');
      ids.push(model.id);
    }
    expect(ids).toHaveLength(16);
    expect(ids).toEqual(expect.arrayContaining(['gpt-6.2-astra', 'openai/gpt-oss-120b', 'qwen-3.8-27b']));
  });

  it('retrieves one model: its price is the one of the provider that serves it by default, and each provider’s is listed', async () => {
    const model = await client.models.retrieve('gpt-oss-120b');
    expect(model).toMatchObject({ id: 'gpt-oss-120b', object: 'model', owned_by: 'openai' });
    const raw = await call(t, 'GET', '/v1/models/gpt-oss-120b', undefined, key);
    expect(raw.status).toBe(200);
    // Groq is cheaper than Cerebras (listed first in the catalog): routing tries it first, so it is the price shown.
    expect(raw.body.providers).toEqual(['groq', 'cerebras']);
    expect(raw.body.pricing).toMatchObject({ provider: 'groq', output_credits_per_million_tokens: '60' });
    expect(
      raw.body.deployments.map((d: any) => [
        d.provider,
        d.max_output_tokens,
        d.pricing.output_credits_per_million_tokens,
      ]),
    ).toEqual([
      ['groq', 65_536, '60'],
      ['cerebras', 40_000, '75'],
    ]);
  });

  it('retrieves a model whose id contains a slash, raw or percent-encoded', async () => {
    const viaSdk = await client.models.retrieve('openai/gpt-oss-120b'); // the SDK sends openai%2Fgpt-oss-120b
    expect(viaSdk.id).toBe('openai/gpt-oss-120b');
    for (const path of ['/v1/models/openai/gpt-oss-120b', '/v1/models/openai%2Fgpt-oss-120b']) {
      const res = await call(t, 'GET', path, undefined, key);
      expect(res.status, path).toBe(200);
      expect(res.body.id).toBe('openai/gpt-oss-120b');
      expect(res.body.providers).toEqual(['groq', 'cerebras']);
      expect(res.body.pricing).toMatchObject({ provider: 'groq', input_credits_per_million_tokens: '15' });
    }
    const qwen = await call(t, 'GET', '/v1/models/qwen/qwen3.8-27b', undefined, key);
    // Cerebras' price is lower than Groq's: routing tries it first, so it leads.
    expect(qwen.body).toMatchObject({ id: 'qwen/qwen3.8-27b', providers: ['cerebras', 'groq'] });
  });

  it('answers 404 model_not_found (param model) for an unknown model', async () => {
    for (const id of ['gpt-4o', 'openai/gpt-oss-999b', 'gpt-oss-120b/extra']) {
      const res = await call(t, 'GET', `/v1/models/${id}`, undefined, key);
      expect(res.status, id).toBe(404);
      expect(res.body).toEqual({
        error: {
          message: `The model \`${id}\` does not exist or you do not have access to it.`,
          type: 'invalid_request_error',
          param: 'model',
          code: 'model_not_found',
        },
      });
    }
    const error = await client.models.retrieve('no-such-model').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).code).toBe('model_not_found');
    expect((error as NotFoundError).param).toBe('model');
  });

  it('answers 401 invalid_api_key without a key, or with a bad one', async () => {
    for (const path of ['/v1/models', '/v1/models/gpt-6.2-sol', '/v1/models/openai/gpt-oss-120b']) {
      const res = await call(t, 'GET', path);
      expect(res.status, path).toBe(401);
      expect(res.body.error).toMatchObject({ code: 'invalid_api_key', type: 'invalid_request_error' });
    }
    const anonymous = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: 'cf_live_nope', maxRetries: 0 });
    await expect(anonymous.models.list()).rejects.toBeInstanceOf(AuthenticationError);
  });

  it('documents both routes in the OpenAPI spec, behind the API key', async () => {
    const spec: any = await (await fetch(`${t.url}/openapi.json`)).json();
    expect(spec.paths['/v1/models'].get.security).toEqual([{ apiKey: [] }]);
    const retrieve = spec.paths['/v1/models/{path}'].get;
    expect(retrieve.security).toEqual([{ apiKey: [] }]);
    expect(retrieve.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual([
      'path:path',
    ]);
    expect(Object.keys(retrieve.responses)).toEqual(expect.arrayContaining(['200', '401', '404']));
  });

  it('counts model calls against the key rate limit', async () => {
    const res = await call(t, 'GET', '/v1/models', undefined, key);
    expect(res.headers.get('x-ratelimit-limit-requests')).not.toBeNull();
    expect(res.headers.get('x-ratelimit-remaining-requests')).not.toBeNull();
  });
});
