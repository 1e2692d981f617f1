import { describe, expect, it } from 'vitest';
import { call, chat, countStatuses, createKey, signup, SMALL } from './client.js';
import { ms, note, useCluster } from './harness.js';

const WINDOW_MS = 60_000; // RATE_LIMIT_WINDOW_MS's default: windows are floor(now / 60 s), the same on every instance

/**
 * The limit's windows are fixed (they start on multiples of 60 s of the clock): a burst that straddled the start
 * of a window would be counted in two. Waits (at most ~20 s) for a window with at least `marginMs` left.
 */
async function awayFromWindowEdge(marginMs: number): Promise<void> {
  const left = WINDOW_MS - (Date.now() % WINDOW_MS);
  if (left < marginMs) {
    note(`rate limit: ${ms(left)} left in this window; waiting for the next one`);
    await new Promise((resolve) => setTimeout(resolve, left + 250));
  }
}

describe('the rate limit is one count across instances', () => {
  const cluster = useCluster({ instances: 3, rateLimitRpm: 60 });

  it('accepts a session signed by one instance on every instance (shared JWT_SECRET)', async () => {
    const c = cluster();
    const { token } = await signup(c.url(0));
    for (let i = 0; i < c.size; i++) {
      expect((await call(c.url(i), 'GET', '/v1/keys', { auth: token })).status).toBe(200);
    }
  }, 60_000);

  it('150 concurrent requests on one key across 3 instances: exactly 60 × 200 and 90 × 429', async () => {
    const c = cluster();
    const { token } = await signup(c.url(0));
    const { key } = await createKey(c.url(1), token, 'test');
    await awayFromWindowEdge(20_000);
    const startedAt = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 150 }, (_, i) => chat(c.url(i % 3), key, SMALL, { timeoutMs: 60_000 })),
    );
    const endedAt = Date.now();
    const counts = countStatuses(answers);
    const byInstance = [0, 1, 2].map((i) => countStatuses(answers.filter((_, n) => n % 3 === i)));
    note(
      `rate limit: ${JSON.stringify(counts)} in ${ms(endedAt - startedAt)}; per instance ` +
        byInstance.map((c) => JSON.stringify(c)).join(' '),
    );
    expect(Math.floor(endedAt / WINDOW_MS), 'the burst stayed within one window').toBe(
      Math.floor(startedAt / WINDOW_MS),
    );
    expect(counts).toEqual({ 200: 60, 429: 90 });
    for (const answer of answers.filter((a) => a.status === 429)) {
      expect(answer.body.error.code).toBe('rate_limit_exceeded');
      expect(answer.headers.get('x-ratelimit-limit-requests')).toBe('60');
    }
  }, 120_000);
});
