import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { call, createKey, signup, startApp, type TestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';

async function hammer(t: TestApp, key: string, count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    statuses.push((await call(t, 'GET', '/v1/keys', undefined, key)).status);
  }
  return statuses;
}

describe('per-key rate limit (in memory)', () => {
  const WINDOW = 3_000;
  const clock = new ManualClock();
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ RATE_LIMIT_WINDOW_MS: String(WINDOW) }, { clock });
  });
  afterAll(() => t.close());

  it('serves 60 requests, refuses the 61st with 429 and the OpenAI headers, and resets with the window', async () => {
    const { token } = await signup(t);
    const { key } = await createKey(t, token, 'live');
    const first = await call(t, 'GET', '/v1/keys', undefined, key);
    expect(first.headers.get('x-ratelimit-limit-requests')).toBe('60');
    expect(first.headers.get('x-ratelimit-remaining-requests')).toBe('59');
    expect(first.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+s$/);

    const statuses = await hammer(t, key, 59);
    expect(statuses.every((s) => s === 200)).toBe(true);

    const refused = await call(t, 'GET', '/v1/keys', undefined, key);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded', param: null });
    expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('x-request-id')).toMatch(/^req_/);

    // the window opened with the first request: refused until it ends, served again once it has
    clock.advance(WINDOW - 1);
    expect((await call(t, 'GET', '/v1/keys', undefined, key)).status).toBe(429);
    clock.advance(1);
    const after = await call(t, 'GET', '/v1/keys', undefined, key);
    expect(after.status).toBe(200);
    expect(after.headers.get('x-ratelimit-remaining-requests')).toBe('59');
  });

  it('counts a key’s requests on every route together: 60 a minute per key, not per route', async () => {
    const { token } = await signup(t);
    const { key } = await createKey(t, token, 'live');
    await hammer(t, key, 30);
    const models = [];
    for (let i = 0; i < 30; i++) {
      models.push((await call(t, 'GET', '/v1/models', undefined, key)).status);
    }
    expect(models.every((s) => s === 200)).toBe(true);
    expect((await call(t, 'GET', '/v1/credits', undefined, key)).status).toBe(429);
  });

  it('counts each key on its own', async () => {
    const { token } = await signup(t);
    const a = await createKey(t, token, 'live');
    const b = await createKey(t, token, 'live');
    await hammer(t, a.key, 60);
    expect((await call(t, 'GET', '/v1/keys', undefined, a.key)).status).toBe(429);
    expect((await call(t, 'GET', '/v1/keys', undefined, b.key)).status).toBe(200);
  });
});

const redisUrl = process.env.REDIS_URL;

describe.skipIf(!redisUrl)('several instances sharing Redis', () => {
  // Redis expires a window's counter on its own (real) clock: the windows here are long enough that it never does
  // during the suite. Two machines' clocks at the same time, at the start of a window (numbered floor(now / window)).
  const WINDOW = 60_000;
  const start = Math.ceil(Date.now() / WINDOW) * WINDOW;
  const clocks = [new ManualClock(start), new ManualClock(start)];
  let one: TestApp;
  let two: TestApp;
  beforeAll(async () => {
    const env = { REDIS_URL: redisUrl!, KEY_CACHE_TTL_MS: '60000', RATE_LIMIT_WINDOW_MS: String(WINDOW) };
    one = await startApp(env, { clock: clocks[0] });
    two = await startApp(env, { clock: clocks[1], shareDatabaseWith: one });
  });
  afterAll(async () => {
    await two?.close();
    await one?.close();
  });

  it('enforces one limit of 60 across two instances, exactly, under concurrency', async () => {
    const { token } = await signup(one);
    const { key } = await createKey(one, token, 'live');
    const calls = Array.from({ length: 90 }, (_, i) =>
      call(i % 2 ? one : two, 'GET', '/v1/keys', undefined, key),
    );
    const statuses = (await Promise.all(calls)).map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(60);
    expect(statuses.filter((s) => s === 429)).toHaveLength(30);

    // the shared window ends when the clocks reach the next one, on both instances
    clocks.forEach((clock) => clock.advance(WINDOW - 1));
    expect((await call(one, 'GET', '/v1/keys', undefined, key)).status).toBe(429);
    clocks.forEach((clock) => clock.advance(1));
    const next = await Promise.all([one, two].map((t) => call(t, 'GET', '/v1/keys', undefined, key)));
    expect(next.map((r) => r.status)).toEqual([200, 200]);
    expect(next.map((r) => r.headers.get('x-ratelimit-remaining-requests')).sort()).toEqual(['58', '59']);
  });

  it('revokes a key on every instance within a second, despite a long cache', async () => {
    const { token } = await signup(one);
    const { key, id } = await createKey(one, token, 'live');
    expect((await call(two, 'GET', '/v1/keys', undefined, key)).status).toBe(200); // cached on instance two
    expect((await call(one, 'DELETE', `/v1/keys/${id}`, undefined, token)).status).toBe(200);
    // the clocks stand still, so the cache never expires here: only the broadcast can reach instance two
    await waitFor(
      async () => (await call(two, 'GET', '/v1/keys', undefined, key)).status === 401,
      1000,
      'the revocation to reach instance two',
    );
  });
});
