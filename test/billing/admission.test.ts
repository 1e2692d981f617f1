import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Fakes } from '../fakes/index.js';
import { useGateway } from '../support/gateway.js';
import { call, createKey, signup, type TestApp } from '../support/app.js';
import { MICRO, ledger, money, setBalance, usageEvents } from '../support/billing.js';

// gpt-6-luna (and its fallback claude-haiku-5-5) cost 10 µcr per prompt token and 50 per completion token. The
// prompt below is 5 tokens and the fakes answer exactly max_tokens tokens, so with max_tokens 199 a request holds
// and costs exactly 5×10 + 199×50 = 10,000 µcr = 0.01 credits.
const PROMPT = 'one two three four five';
const EXACT = {
  model: 'gpt-6-luna',
  messages: [{ role: 'user' as const, content: PROMPT }],
  max_tokens: 199,
};
const COST = 10_000n;

describe('admission: holds, 402 and exact balances', () => {
  const g = useGateway({ resetFakes: false });
  let fakes: Fakes;
  let t: TestApp;
  beforeAll(() => {
    ({ fakes, t } = g);
  });

  it('bills a request exactly what its tokens cost, and says so in the headers and the usage', async () => {
    const { token, accountId } = await signup(t);
    const { key } = await createKey(t, token, 'live');
    const res = await call(t, 'POST', '/v1/chat/completions', EXACT, key);
    expect(res.status).toBe(200);
    expect(res.body.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 199, cost_credits: '0.01' });
    expect(res.headers.get('x-conflux-cost-credits')).toBe('0.01');
    expect(res.headers.get('x-conflux-credits-remaining')).toBe('499.99');
    const after = await money(t, accountId);
    expect(after).toEqual({ balance: 500n * MICRO - COST, held: 0n, ledger: 500n * MICRO - COST, holds: 0 });
    const [event] = await usageEvents(t, accountId);
    expect(event).toMatchObject({
      status: 'completed',
      cost: '10000',
      estimated: false,
      test: false,
      provider: 'openai',
    });
    expect(event.price_version).toMatch(/^gpt-6-luna@openai@2026-01-01/);
  });

  it('serves exactly 100 of 300 concurrent 0.01-credit requests on a 1-credit Free account; the rest get 402', async () => {
    const { token, accountId } = await signup(t);
    await setBalance(t, accountId, 1n * MICRO);
    const keys = await Promise.all(Array.from({ length: 3 }, () => createKey(t, token, 'live')));
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) => call(t, 'POST', '/v1/chat/completions', EXACT, keys[i % 3].key)),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    expect(statuses.filter((s) => s === 402)).toHaveLength(200);
    const refused = results.find((r) => r.status === 402)!;
    expect(refused.body.error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota' });
    expect(refused.headers.get('x-should-retry')).toBe('false');
    expect(await money(t, accountId)).toEqual({ balance: 0n, held: 0n, ledger: 0n, holds: 0 });
    const events = await usageEvents(t, accountId);
    expect(events.filter((e) => e.status === 'completed')).toHaveLength(100);
  });

  it('keeps K concurrent streams at the edge of a balance within one hold, with ledger = balance and no holds left', async () => {
    const { token, accountId } = await signup(t);
    await setBalance(t, accountId, 25_000n); // room for two holds of 10,000 µcr, not three
    const { key } = await createKey(t, token, 'live');
    const client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: key, maxRetries: 0 });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, async () => {
        const stream = await client.chat.completions.create({ ...EXACT, stream: true });
        let text = '';
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta.content ?? '';
        }
        return text;
      }),
    );
    const served = outcomes.filter((o) => o.status === 'fulfilled');
    expect(served.length).toBe(2);
    const refusals = outcomes.filter((o) => o.status === 'rejected') as PromiseRejectedResult[];
    expect(refusals.every((r) => (r.reason as { status?: number }).status === 402)).toBe(true);
    const after = await money(t, accountId);
    expect(after.balance).toBe(5_000n);
    expect(after.balance).toBeGreaterThanOrEqual(-COST);
    expect(after.ledger).toBe(after.balance);
    expect(after.holds).toBe(0);
    expect(after.held).toBe(0n);
  });

  it('lets a paid plan go past its allocation and counts the overage', async () => {
    const { token, accountId } = await signup(t);
    await t.db.query(`UPDATE accounts SET plan = 'power' WHERE id = $1`, [accountId]);
    const { KeysService } = await import('../../src/keys/keys.service.js');
    await t.app.get(KeysService).accountChanged(accountId);
    await setBalance(t, accountId, 5_000n); // half a request left of the allocation
    const { key } = await createKey(t, token, 'live');
    for (let i = 0; i < 3; i++) {
      expect((await call(t, 'POST', '/v1/chat/completions', EXACT, key)).status).toBe(200);
    }
    expect((await money(t, accountId)).balance).toBe(5_000n - 3n * COST);
    const credits = await call(t, 'GET', '/v1/credits', undefined, token);
    expect(credits.body).toMatchObject({ plan: 'power', balance: '-0.025', included: '10000', used: '0.03' });
    expect(credits.body.overage_price_usd_per_credit).toBe('0.003');
  });

  it('records test-key traffic at cost 0, with no ledger entry and no hold', async () => {
    const { token, accountId } = await signup(t);
    const { key } = await createKey(t, token, 'test');
    const before = fakes.openai.chatRequests().length;
    const res = await call(t, 'POST', '/v1/chat/completions', EXACT, key);
    expect(res.status).toBe(200);
    expect(res.body.usage.cost_credits).toBe('0');
    expect(fakes.openai.chatRequests().length).toBe(before);
    expect(await money(t, accountId)).toEqual({
      balance: 500n * MICRO,
      held: 0n,
      ledger: 500n * MICRO,
      holds: 0,
    });
    const [event] = await usageEvents(t, accountId);
    expect(event).toMatchObject({ test: true, cost: '0', status: 'completed' });
  });

  it('reports the balance, plan, period, allocation and use by model on GET /v1/credits', async () => {
    const { token, accountId } = await signup(t);
    const { key } = await createKey(t, token, 'live');
    await call(t, 'POST', '/v1/chat/completions', EXACT, key);
    await call(t, 'POST', '/v1/chat/completions', EXACT, key);
    for (const auth of [token, key]) {
      const res = await call(t, 'GET', '/v1/credits', undefined, auth);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        object: 'credits',
        plan: 'free',
        balance: '499.98',
        held: '0',
        included: '500',
        used: '0.02',
        overage: '0',
        overage_price_usd_per_credit: null,
        by_model: [{ model: 'gpt-6-luna', requests: 2, credits: '0.02' }],
      });
      expect(new Date(res.body.period.end).getTime()).toBeGreaterThan(
        new Date(res.body.period.start).getTime(),
      );
    }
    expect((await money(t, accountId)).ledger).toBe(500n * MICRO - 2n * COST);
  });
});

describe('a Free request the provider counts beyond its hold', () => {
  const g = useGateway();

  it('counts a file in the hold, charges at most the hold, and writes the rest off: the balance never goes below zero', async () => {
    const { token, accountId } = await signup(g.t);
    const { key } = await createKey(g.t, token, 'live');
    // claude-haiku-5-5: 10 µcr per prompt token, 50 per completion token. The hold counts the 5 text tokens and
    // the file at its 1,000-token allowance: (5 + 1,000) × 10 + 10 × 50 = 10,550 µcr. The provider counts the
    // document as a 2,500-token page: (5 + 2,500) × 10 + 10 × 50 = 25,550 µcr.
    await setBalance(g.t, accountId, 12_000n);
    const res = await call(
      g.t,
      'POST',
      '/v1/chat/completions',
      {
        model: 'claude-haiku-5-5',
        max_tokens: 10,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: PROMPT },
              {
                type: 'file',
                file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0xLjQK' },
              },
            ],
          },
        ],
      },
      key,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-conflux-cost-credits')).toBe('0.01055');
    const m = await money(g.t, accountId);
    expect(m).toEqual({ balance: 1_450n, held: 0n, ledger: 1_450n, holds: 0 });
    const entries = await ledger(g.t, accountId);
    expect(entries.find((e) => e.kind === 'usage')?.amount).toBe('-25550');
    expect(entries.find((e) => e.reference.startsWith('writeoff:'))).toMatchObject({
      kind: 'adjustment',
      amount: '15000',
    });
    // The next request does not fit what is left: 402, not a negative balance.
    expect((await call(g.t, 'POST', '/v1/chat/completions', EXACT, key)).status).toBe(402);
  });
});
