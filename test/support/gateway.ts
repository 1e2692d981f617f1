import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { Clock } from '../../src/common/clock.js';
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

export interface GatewayOptions {
  /** Extra environment (health intervals, breaker thresholds, provider keys, …). */
  env?: Record<string, string>;
  /** Fakes the caller owns (and closes); started and closed with the gateway otherwise. */
  fakes?: Fakes;
  /** The app's clock: a `ManualClock` for tests that move time. */
  clock?: Clock;
}

/** Environment of every chat suite: high per-key limits (these suites send hundreds of requests per key). */
export function gatewayEnv(fakes: Fakes, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...fakes.env,
    RATE_LIMIT_RPM: '100000',
    KEY_MAX_CONCURRENT: '100000',
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    ...extra,
  };
}

/** An OpenAI SDK client on the gateway, without retries: every error surfaces as the SDK's exception at once. */
export function client(t: TestApp, apiKey: string): OpenAI {
  return new OpenAI({ baseURL: `${t.url}/v1`, apiKey, maxRetries: 0, timeout: 20_000 });
}

export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const fakes = options.fakes ?? (await startFakes());
  const t = await startApp(gatewayEnv(fakes, options.env), { clock: options.clock });
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

/**
 * The set-up most suites share: a gateway started before the suite's tests and closed after them, with the fakes'
 * faults and recorded requests cleared before each test (unless `resetFakes: false`). The object returned is
 * filled in when the suite starts: use it inside hooks and tests only.
 */
export function useGateway(options: GatewayOptions & { resetFakes?: boolean } = {}): Gateway {
  const g = {} as Gateway;
  beforeAll(async () => {
    Object.assign(g, await startGateway(options));
  });
  if (options.resetFakes !== false) {
    beforeEach(() => g.fakes.reset());
  }
  afterAll(async () => {
    await g.close?.();
  });
  return g;
}
