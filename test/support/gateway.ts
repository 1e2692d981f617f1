import OpenAI from 'openai';
import { startFakes, type Fakes } from '../fakes/index.js';
import { createKey, signup, startApp, type TestApp } from './app.js';

/** The app started against the five fake providers, with an account, a live and a test key, and SDK clients. */
export interface Gateway {
  fakes: Fakes;
  t: TestApp;
  session: string;
  liveKey: string;
  testKey: string;
  live: OpenAI;
  test: OpenAI;
  close(): Promise<void>;
}

/** Environment of every chat suite: a high per-key limit (these suites send hundreds of requests per key). */
export function gatewayEnv(fakes: Fakes, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...fakes.env,
    RATE_LIMIT_RPM: '100000',
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    ...extra,
  };
}

export function client(t: TestApp, apiKey: string): OpenAI {
  return new OpenAI({ baseURL: `${t.url}/v1`, apiKey, maxRetries: 0, timeout: 20_000 });
}

export async function startGateway(
  options: { env?: Record<string, string>; fakes?: Fakes } = {},
): Promise<Gateway> {
  const fakes = options.fakes ?? (await startFakes());
  const t = await startApp(gatewayEnv(fakes, options.env));
  const { token } = await signup(t);
  const liveKey = (await createKey(t, token, 'live')).key;
  const testKey = (await createKey(t, token, 'test')).key;
  return {
    fakes,
    t,
    session: token,
    liveKey,
    testKey,
    live: client(t, liveKey),
    test: client(t, testKey),
    close: async () => {
      await t.close();
      if (!options.fakes) {
        await fakes.close();
      }
    },
  };
}

/** One gateway model per provider, with where that provider keeps the system prompt in its native request. */
