import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { KeysService } from '../../src/keys/keys.service.js';
import { MeteringService } from '../../src/billing/metering.service.js';
import { KeyBudget } from '../../src/billing/key-budget.js';
import type { Fakes } from '../fakes/index.js';
import { gatewayEnv, useGateway } from '../support/gateway.js';
import { call, createKey, signup, startApp, type TestApp } from '../support/app.js';
import { MICRO, money } from '../support/billing.js';

// gpt-6-luna costs 10 µcr per prompt token and 50 per completion token; the fakes answer exactly max_tokens tokens.
// 5 prompt tokens and 1,999 completion tokens: 50 + 99,950 = 100,000 µcr = 0.1 credits a request, held and charged.
const TENTH = {
  model: 'gpt-6-luna',
  messages: [{ role: 'user' as const, content: 'one two three four five' }],
  max_tokens: 1999,
};
const COST = 100_000n;

async function keySpend(t: TestApp, publicId: string) {
  const [row] = await t.db.query(
    `SELECT s.spent_micro::text AS spent, s.held_micro::text AS held, s.requests::int AS requests,
            (SELECT count(*)::int FROM key_holds h WHERE h.key_id = k.id) AS holds
       FROM api_keys k LEFT JOIN key_spend s ON s.key_id = k.id WHERE k.public_id = $1`,
    [publicId],
  );
  return {
    spent: BigInt(row.spent ?? '0'),
    held: BigInt(row.held ?? '0'),
    requests: (row.requests as number | null) ?? 0,
    holds: row.holds as number,
  };
}

async function limitedKey(t: TestApp, session: string, limit: string) {
  const key = await createKey(t, session, 'live');
  const res = await call(t, 'PATCH', `/v1/keys/${key.id}`, { credit_limit: limit }, session);
  expect(res.status).toBe(200);
  expect(res.body.credit_limit).toBe(limit);
  return key;
}

describe('a key with a credit limit', () => {
  const clock = new ManualClock();
  const g = useGateway({ resetFakes: false, clock });
  let t: TestApp;
  let fakes: Fakes;
  beforeAll(() => {
    ({ t, fakes } = g);
  });

  for (const plan of ['free', 'power'] as const) {
    it(`spends at most its limit under 30 concurrent requests (${plan} plan), and the account's other keys keep working`, async () => {
      const { token, accountId } = await signup(t);
      if (plan !== 'free') {
        await t.db.query(`UPDATE accounts SET plan = $2 WHERE id = $1`, [accountId, plan]);
        await t.app.get(KeysService).accountChanged(accountId);
      }
      const limited = await limitedKey(t, token, '1');
      const other = await createKey(t, token, 'live');
      const before = await money(t, accountId);
      const results = await Promise.all(
        Array.from({ length: 30 }, () => call(t, 'POST', '/v1/chat/completions', TENTH, limited.key)),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(10);
      expect(statuses.filter((s) => s === 402)).toHaveLength(20);
      const refused = results.find((r) => r.status === 402)!;
      expect(refused.body.error).toMatchObject({ type: 'insufficient_quota', code: 'key_credit_limit' });
      expect(refused.body.error.message).toContain('credit limit of 1 credits');
      expect(refused.body.error.message).toContain(limited.id);

      expect(await keySpend(t, limited.id)).toEqual({ spent: 1n * MICRO, held: 0n, requests: 10, holds: 0 });
      const after = await money(t, accountId);
      expect(before.balance - after.balance).toBe(10n * COST);
      expect(after.ledger).toBe(after.balance);

      expect((await call(t, 'POST', '/v1/chat/completions', TENTH, other.key)).status).toBe(200);
      const shown = await call(t, 'GET', `/v1/keys/${limited.id}`, undefined, token);
      expect(shown.body.usage).toMatchObject({ credits: '1', requests: 10 });
      const list = await call(t, 'GET', '/v1/keys', undefined, token);
      const otherShown = list.body.data.find((k: { id: string }) => k.id === other.id);
      expect(otherShown.usage).toMatchObject({ credits: '0.1', requests: 1 });
    });
  }

  it('counts a hold in flight against the limit, and releases what the request did not use', async () => {
    const { token } = await signup(t);
    const limited = await limitedKey(t, token, '0.15');
    // the fake answers 1,999 tokens but the hold was for 2,999: the unused part goes back to the key
    const res = await call(t, 'POST', '/v1/chat/completions', { ...TENTH, max_tokens: 2999 }, limited.key);
    expect(res.status).toBe(200);
    expect(await keySpend(t, limited.id)).toMatchObject({ held: 0n, holds: 0 });
    const spent = (await keySpend(t, limited.id)).spent;
    expect(spent).toBe(BigInt(res.body.usage.cost_credits.replace('.', '').padEnd(7, '0')) * 1n);
    // 0.15 − spent is less than one more 0.1 request's hold
    expect((await call(t, 'POST', '/v1/chat/completions', TENTH, limited.key)).status).toBe(402);
    // raising the limit lets it go on at once; clearing it removes the limit
    await call(t, 'PATCH', `/v1/keys/${limited.id}`, { credit_limit: '10' }, token);
    expect((await call(t, 'POST', '/v1/chat/completions', TENTH, limited.key)).status).toBe(200);
    await call(t, 'PATCH', `/v1/keys/${limited.id}`, { credit_limit: null }, token);
    expect((await call(t, 'GET', `/v1/keys/${limited.id}`, undefined, token)).body.credit_limit).toBeNull();
    expect(fakes.openai.chatRequests().length).toBeGreaterThan(0);
  });

  it('gives a request without max_tokens the output the key limit allows', async () => {
    const { token } = await signup(t);
    const limited = await limitedKey(t, token, '0.06');
    const res = await call(
      t,
      'POST',
      '/v1/chat/completions',
      { model: TENTH.model, messages: TENTH.messages },
      limited.key,
    );
    expect(res.status).toBe(200);
    const allowed = Number(res.headers.get('x-conflux-max-tokens'));
    expect(allowed).toBe(Math.floor((60_000 - 50) / 50));
    expect((await keySpend(t, limited.id)).spent).toBeLessThanOrEqual(60_000n);
  });

  it('starts again on the billing date', async () => {
    const { token, accountId } = await signup(t);
    const limited = await limitedKey(t, token, '0.1');
    expect((await call(t, 'POST', '/v1/chat/completions', TENTH, limited.key)).status).toBe(200);
    expect((await call(t, 'POST', '/v1/chat/completions', TENTH, limited.key)).status).toBe(402);
    const [{ period_end }] = await t.db.query(`SELECT period_end FROM accounts WHERE id = $1`, [accountId]);
    clock.set(new Date(period_end).getTime() + 1000);
    await t.app.get(MeteringService).resetPeriods();
    const res = await call(t, 'POST', '/v1/chat/completions', TENTH, limited.key);
    expect(res.status).toBe(200);
    // (a month later the session has expired: the key itself reads its settings)
    const shown = await call(t, 'GET', `/v1/keys/${limited.id}`, undefined, limited.key);
    expect(shown.body.usage).toMatchObject({ credits: '0.1', requests: 1 });
  });

  it('gives back the hold of an instance that died, when it expires', async () => {
    const { token } = await signup(t);
    const limited = await limitedKey(t, token, '1');
    const [{ id }] = await t.db.query(`SELECT id FROM api_keys WHERE public_id = $1`, [limited.id]);
    // a hold left by an instance that is gone (no settlement will come for it)
    await t.db.query(`SELECT * FROM conflux_key_hold($1, 100000, 100000, 'req_dead', 'inst_dead', $2)`, [
      id,
      new Date(clock.now() + 1000),
    ]);
    expect(await keySpend(t, limited.id)).toMatchObject({ held: 100_000n, holds: 1 });
    clock.advance(2000);
    // (the keeper's timer may have reclaimed it first: either way it is given back once)
    await t.app.get(KeyBudget).reclaimExpired(clock.date());
    expect(await keySpend(t, limited.id)).toMatchObject({ held: 0n, holds: 0 });
  });
});

describe.skipIf(!process.env.DATABASE_URL)('a key with a credit limit on two instances', () => {
  const g = useGateway({ resetFakes: false });
  let other: TestApp;
  beforeAll(async () => {
    other = await startApp(gatewayEnv(g.fakes), { shareDatabaseWith: g.t });
  });
  afterAll(() => other?.close());

  it('spends at most its limit with 30 concurrent requests spread over both', async () => {
    const { t } = g;
    const { token } = await signup(t);
    const limited = await limitedKey(t, token, '1');
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        call(i % 2 ? t : other, 'POST', '/v1/chat/completions', TENTH, limited.key),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 402)).toHaveLength(20);
    expect(await keySpend(t, limited.id)).toEqual({ spent: 1n * MICRO, held: 0n, requests: 10, holds: 0 });
  });
});
