import { describe, expect, it } from 'vitest';
import {
  chat,
  countStatuses,
  createKey,
  EXACT,
  EXACT_COST,
  leases,
  money,
  setBalance,
  signup,
  usageEvents,
  waitFor,
} from './client.js';
import { ms, note, useCluster } from './harness.js';

const MICRO = 1_000_000n;

describe('the money stays consistent across instances', () => {
  // A high limit: this is about credit, not the rate limit.
  const cluster = useCluster({ instances: 3, rateLimitRpm: 100_000 });

  it('1 credit, 3 instances × 100 concurrent requests of exactly 0.01 credit: 100 × 200, 200 × 402, balance 0 = Σ ledger', async () => {
    const c = cluster();
    const { token, accountId } = await signup(c.url(0));
    expect(await setBalance(c.db, accountId, 1n * MICRO)).toBe(1n * MICRO);
    expect(await money(c.db, accountId)).toMatchObject({ balance: MICRO, ledger: MICRO, held: 0n });
    const { key } = await createKey(c.url(1), token, 'live');

    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) => chat(c.url(i % 3), key, EXACT, { timeoutMs: 120_000 })),
    );
    const counts = countStatuses(answers);
    const byInstance = [0, 1, 2].map((i) => countStatuses(answers.filter((_, n) => n % 3 === i)));
    note(
      `money: ${JSON.stringify(counts)} in ${ms(performance.now() - started)}; per instance ` +
        byInstance.map((b) => JSON.stringify(b)).join(' '),
    );
    expect(counts).toEqual({ 200: 100, 402: 200 });
    for (const answer of answers) {
      if (answer.status === 200) {
        expect(answer.body.usage).toMatchObject({
          prompt_tokens: 5,
          completion_tokens: 199,
          cost_credits: '0.01',
        });
      } else {
        expect(answer.body.error.code).toBe('insufficient_quota');
      }
    }

    // Idle leases go back to the account within ~2–3 s; settlements are written in batches.
    const settledMs = await waitFor(
      async () => {
        const m = await money(c.db, accountId);
        return m.held === 0n && m.leases === 0;
      },
      20_000,
      'held_micro 0 and no lease holding credit',
    );
    await waitFor(
      async () => (await usageEvents(c.db, accountId)).length >= 100,
      10_000,
      '100 usage events written',
    );
    const events = await usageEvents(c.db, accountId);
    const after = await money(c.db, accountId);
    note(
      `money: leases given back ${ms(settledMs)} after the last answer; ${JSON.stringify({
        ...after,
        balance: after.balance.toString(),
        held: after.held.toString(),
        ledger: after.ledger.toString(),
        leased: after.leased.toString(),
      })}; lease rows ${(await leases(c.db, accountId)).length}; usage events ${events.length}`,
    );
    expect(after.balance).toBe(0n);
    expect(after.held).toBe(0n);
    expect(after.ledger).toBe(after.balance);
    const completed = events.filter((e) => e.status === 'completed');
    expect(completed).toHaveLength(100);
    expect(completed.every((e) => BigInt(e.cost) === EXACT_COST)).toBe(true);
  }, 180_000);
});
