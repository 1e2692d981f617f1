import OpenAI from 'openai';
import { startFakes, type Fakes } from '../fakes/index.js';
import { call, createKey, signup, startApp, type TestApp } from '../support/app.js';

/** An app on the fake providers, an account with a live key, and an OpenAI SDK client without retries. */
export interface Routing {
  fakes: Fakes;
  t: TestApp;
  client: OpenAI;
  close(): Promise<void>;
}

export async function startRouting(env: Record<string, string> = {}, fakes?: Fakes): Promise<Routing> {
  const own = fakes ?? (await startFakes());
  const t = await startApp({
    ...own.env,
    RATE_LIMIT_RPM: '100000',
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    ...env,
  });
  const { token } = await signup(t);
  const { key } = await createKey(t, token, 'live');
  return {
    fakes: own,
    t,
    client: new OpenAI({ baseURL: `${t.url}/v1`, apiKey: key, maxRetries: 0, timeout: 20_000 }),
    close: async () => {
      await t.close();
      if (!fakes) {
        await own.close();
      }
    },
  };
}

/** One short non-streaming completion; returns the body and the routing headers. */
export async function ask(client: OpenAI, model: string) {
  const { data, response } = await client.chat.completions
    .create({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 })
    .withResponse();
  return {
    body: data,
    provider: response.headers.get('x-conflux-provider'),
    model: response.headers.get('x-conflux-model'),
    attempts: Number(response.headers.get('x-conflux-attempts')),
  };
}

export async function status(t: Pick<TestApp, 'url'>): Promise<any> {
  const res = await call(t, 'GET', '/v1/status');
  if (res.status !== 200) {
    throw new Error(`GET /v1/status: ${res.status}`);
  }
  return res.body;
}

export function providerStatus(body: any, id: string): any {
  return body.providers.find((p: any) => p.id === id);
}

export function modelStatus(body: any, id: string): any {
  return body.models.find((m: any) => m.id === id);
}

/** Polls `check` until it returns true, for at most `ms` (a bounded wait, not a timing assertion). */
export async function waitFor(check: () => Promise<boolean> | boolean, ms = 5_000, what = 'condition') {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
