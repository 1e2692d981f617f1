import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LeaseBook } from '../../src/billing/lease-book.js';
import { MeteringService } from '../../src/billing/metering.service.js';
import { ManualClock } from '../../src/common/clock.js';
import type { Fakes } from '../fakes/index.js';
import { useGateway } from '../support/gateway.js';
import { call, signup, startApp, type TestApp } from '../support/app.js';
import { MICRO, liveAccount, postChat, ledger, money, usageEvents } from '../support/billing.js';
import { waitFor } from '../support/wait.js';

describe('settlement: what was delivered is billed, once', () => {
  const g = useGateway();
  let fakes: Fakes;
  let t: TestApp;
  beforeAll(() => {
    ({ fakes, t } = g);
  });

  it('bills a stream the provider cut after 40 chunks for what was delivered, flagged estimated', async () => {
    const { accountId, key } = await liveAccount(t);
    fakes.anthropic.addFault({ kind: 'cut', afterChunks: 40 });
    const res = await postChat(t, key, {
      model: 'claude-haiku-5-5',
      messages: [{ role: 'user', content: 'one two three four five' }],
      max_tokens: 100,
      stream: true,
    });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toContain('"error"');
    expect(text).not.toContain('[DONE]');
    const [event] = await usageEvents(t, accountId);
    expect(event).toMatchObject({ status: 'cut', estimated: true, completion_tokens: 40, prompt_tokens: 5 });
    // claude-haiku-5-5: 10 µcr per prompt token, 50 per completion token
    expect(event.cost).toBe(String(5 * 10 + 40 * 50));
    const m = await money(t, accountId);
    expect(m).toEqual({ balance: 500n * MICRO - 2050n, held: 0n, ledger: 500n * MICRO - 2050n, holds: 0 });
  });

  it('bills a client that aborts mid-stream for what was delivered before it left', async () => {
    const { accountId, key } = await liveAccount(t);
    const controller = new AbortController();
    const res = await postChat(
      t,
      key,
      {
        model: 'gpt-6-luna',
        messages: [{ role: 'user', content: 'one two three four five' }],
        max_tokens: 20_000,
        stream: true,
      },
      controller.signal,
    );
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await vi.waitFor(async () => expect((await usageEvents(t, accountId)).length).toBe(1), { timeout: 5000 });
    const [event] = await usageEvents(t, accountId);
    expect(event.status).toBe('aborted');
    expect(event.estimated).toBe(true);
    expect(event.completion_tokens).toBeGreaterThan(0);
    expect(event.completion_tokens).toBeLessThan(20_000);
    expect(BigInt(event.cost)).toBe(BigInt(event.prompt_tokens * 10 + event.completion_tokens * 50));
    const m = await money(t, accountId);
    expect(m.ledger).toBe(m.balance);
    expect(m.balance).toBe(500n * MICRO - BigInt(event.cost));
    expect(m.holds).toBe(0);
  });

  it('bills a failed-over request once, at the price of the model that served it', async () => {
    const { accountId, key } = await liveAccount(t);
    fakes.openai.setDown();
    const res = await call(
      t,
      'POST',
      '/v1/chat/completions',
      {
        model: 'gpt-6.1-terra',
        messages: [{ role: 'user', content: 'one two three four five' }],
        max_tokens: 10,
      },
      key,
    );
    expect(res.status).toBe(200);
    expect(res.body.model).toBe('gemini-3.8-flash');
    expect(res.headers.get('x-conflux-model')).toBe('gemini-3.8-flash');
    expect(res.headers.get('x-conflux-attempts')).toBe('2');
    const events = await usageEvents(t, accountId);
    expect(events).toHaveLength(1);
    // gemini-3.8-flash: $0.75/M in = 75 µcr per token, $3.75/M out = 375 µcr per token
    expect(events[0]).toMatchObject({
      model_served: 'gemini-3.8-flash',
      provider: 'gemini',
      attempts: 2,
      cost: String(5 * 75 + 10 * 375),
    });
    const usage = (await ledger(t, accountId)).filter((l) => l.kind === 'usage');
    expect(usage).toEqual([
      { kind: 'usage', amount: String(-(5 * 75 + 10 * 375)), reference: `usage:${events[0].request_id}` },
    ]);
    fakes.openai.clearFaults();
  });

  it('releases the hold of a request no provider could serve, and charges nothing', async () => {
    const { accountId, key } = await liveAccount(t);
    for (const fake of fakes.all) {
      fake.setDown();
    }
    const res = await call(
      t,
      'POST',
      '/v1/chat/completions',
      { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'x' }] },
      key,
    );
    expect(res.status).toBe(503);
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(await money(t, accountId)).toEqual({
      balance: 500n * MICRO,
      held: 0n,
      ledger: 500n * MICRO,
      holds: 0,
    });
    const [event] = await usageEvents(t, accountId);
    expect(event).toMatchObject({ status: 'failed', cost: '0' });
  });

  it('replays a completed request for the same Idempotency-Key without a provider call or a second charge', async () => {
    const { accountId, key } = await liveAccount(t);
    const body = {
      model: 'gpt-6-luna',
      messages: [{ role: 'user', content: 'one two three four five' }],
      max_tokens: 3,
    };
    const first = await call(t, 'POST', '/v1/chat/completions', body, key, { 'idempotency-key': 'order-42' });
    const callsAfterFirst = fakes.openai.chatRequests().length;
    const second = await call(t, 'POST', '/v1/chat/completions', body, key, {
      'idempotency-key': 'order-42',
    });
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('x-conflux-idempotent-replay')).toBe('true');
    expect(second.headers.get('x-request-id')).not.toBe(first.headers.get('x-request-id'));
    expect(fakes.openai.chatRequests().length).toBe(callsAfterFirst);
    expect((await usageEvents(t, accountId)).length).toBe(1);
    expect((await ledger(t, accountId)).filter((l) => l.kind === 'usage')).toHaveLength(1);

    const other = await call(t, 'POST', '/v1/chat/completions', { ...body, max_tokens: 4 }, key, {
      'idempotency-key': 'order-42',
    });
    expect(other.status).toBe(400);
    expect(other.body.error.param).toBe('Idempotency-Key');
  });

  it('answers 409 to a duplicate while the first request with that Idempotency-Key is still in flight', async () => {
    const { key } = await liveAccount(t);
    fakes.openai.addFault({ kind: 'slow', ms: 800 });
    const body = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'hello' }], max_tokens: 3 };
    const first = call(t, 'POST', '/v1/chat/completions', body, key, { 'idempotency-key': 'dup-1' });
    // the gateway claims the key before it calls the provider: once the call has arrived, the first is in flight
    await waitFor(() => fakes.openai.chatRequests().length === 1, 5_000, 'the first request to reach openai');
    const duplicate = await call(t, 'POST', '/v1/chat/completions', body, key, {
      'idempotency-key': 'dup-1',
    });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error.code).toBe('idempotency_key_in_use');
    expect((await first).status).toBe(200);
  });

  it('frees the Idempotency-Key of a request that failed, so a retry runs', async () => {
    const { key } = await liveAccount(t);
    for (const fake of fakes.all) {
      fake.setDown();
    }
    const body = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'hello' }], max_tokens: 3 };
    expect(
      (await call(t, 'POST', '/v1/chat/completions', body, key, { 'idempotency-key': 'retry-me' })).status,
    ).toBe(503);
    fakes.reset();
    expect(
      (await call(t, 'POST', '/v1/chat/completions', body, key, { 'idempotency-key': 'retry-me' })).status,
    ).toBe(200);
  });

  it('stores no readable completion for idempotent replays', async () => {
    const { key } = await liveAccount(t);
    const body = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'hello' }], max_tokens: 3 };
    await call(t, 'POST', '/v1/chat/completions', body, key, { 'idempotency-key': 'sealed-1' });
    const rows = await t.db.query(
      `SELECT encode(sealed, 'escape') AS s FROM idempotency_records WHERE sealed IS NOT NULL`,
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.s).not.toContain('Hello hello');
    }
  });
});

describe('billing periods and crashed instances', () => {
  const clock = new ManualClock();
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({}, { clock });
  });
  afterAll(() => t.close());

  it('resets the allocation on the billing date, drops the remainder, and does so once per period', async () => {
    const { accountId, token } = await signup(t);
    const { BillingRepository } = await import('../../src/billing/billing.repository.js');
    await t.app
      .get(BillingRepository)
      .credit(accountId, 'usage', -123_456_789n, `test-use:${accountId}`, null);
    await t.db.query(
      `UPDATE accounts SET period_start = now() - interval '1 month 1 day', period_end = now() - interval '1 day' WHERE id = $1`,
      [accountId],
    );
    const metering = t.app.get(MeteringService);
    await Promise.all([metering.resetPeriods(), metering.resetPeriods()]);
    await metering.resetPeriods();
    const m = await money(t, accountId);
    expect(m).toEqual({ balance: 500n * MICRO, held: 0n, ledger: 500n * MICRO, holds: 0 });
    const resets = (await ledger(t, accountId)).filter((l) => l.kind === 'reset');
    expect(resets).toHaveLength(1);
    expect(resets[0].amount).toBe('123456789');
    const credits = await call(t, 'GET', '/v1/credits', undefined, token);
    expect(new Date(credits.body.period.end).getTime()).toBeGreaterThan(Date.now());
  });

  it('gives back the credit a crashed instance leased once its lease expires, and not before', async () => {
    const { accountId } = await signup(t);
    const ttl = t.config.recovery.leaseTtlMs;
    // What an instance that died mid-request leaves: a lease on the account, held, never renewed again.
    await t.db.query(`UPDATE accounts SET held_micro = 777 WHERE id = $1`, [accountId]);
    await t.db.query(
      `INSERT INTO credit_leases (account_id, instance_id, amount_micro, expires_at) VALUES ($1, 'inst_dead', 777, $2)`,
      [accountId, new Date(clock.now() + ttl)],
    );
    const book = t.app.get(LeaseBook);
    clock.advance(ttl - 1);
    await book.keep();
    expect(await money(t, accountId)).toMatchObject({ held: 777n, holds: 1 });
    clock.advance(ttl);
    await book.keep();
    expect(await money(t, accountId)).toMatchObject({ balance: 500n * MICRO, held: 0n, holds: 0 });
  });

  it('keeps the ledger append-only', async () => {
    const { accountId } = await signup(t);
    await expect(
      t.db.query(`UPDATE credit_ledger SET amount_micro = 1 WHERE account_id = $1`, [accountId]),
    ).rejects.toThrow(/append-only/);
  });

  it('starts each period where the last ended, a calendar month later, when the clock reaches it', async () => {
    const { accountId } = await signup(t);
    await t.db.query(`UPDATE accounts SET period_start = $2, period_end = $3 WHERE id = $1`, [
      accountId,
      '2026-12-31T12:00:00Z',
      '2027-01-31T12:00:00Z',
    ]);
    const period = async () => {
      const [row] = await t.db.query(`SELECT period_start, period_end FROM accounts WHERE id = $1`, [
        accountId,
      ]);
      return [new Date(row.period_start).toISOString(), new Date(row.period_end).toISOString()];
    };
    const metering = t.app.get(MeteringService);
    try {
      clock.set(new Date('2027-01-31T11:59:59.999Z'));
      await metering.resetPeriods();
      expect(await period()).toEqual(['2026-12-31T12:00:00.000Z', '2027-01-31T12:00:00.000Z']);

      clock.set(new Date('2027-01-31T12:00:00Z')); // the billing date itself
      await metering.resetPeriods();
      // there is no February 31st: the period ends on February's last day (and later ones on the 28th)
      expect(await period()).toEqual(['2027-01-31T12:00:00.000Z', '2027-02-28T12:00:00.000Z']);

      // an instance that missed several billing dates catches up one period at a time, each reset once
      clock.set(new Date('2027-05-01T00:00:00Z'));
      await Promise.all([metering.resetPeriods(), metering.resetPeriods()]);
      expect(await period()).toEqual(['2027-04-28T12:00:00.000Z', '2027-05-28T12:00:00.000Z']);
      const resets = (await ledger(t, accountId)).filter((l) => l.kind === 'reset');
      expect(resets.map((l) => l.reference)).toEqual(
        ['2027-01-31', '2027-02-28', '2027-03-28', '2027-04-28'].map(
          (day) => `reset:${accountId}:${day}T12:00:00.000Z`,
        ),
      );
      expect((await money(t, accountId)).balance).toBe(500n * MICRO);
    } finally {
      clock.set(Date.now());
    }
  });
});

describe('a client that leaves before any answer', () => {
  const g = useGateway({ resetFakes: false });
  let fakes: Fakes;
  let t: TestApp;
  beforeAll(() => {
    ({ fakes, t } = g);
  });

  it('is billed for the prompt that reached the provider, estimated, and the upstream call is cancelled', async () => {
    const { accountId, key } = await liveAccount(t);
    fakes.openai.addFault({ kind: 'slow', ms: 1500 });
    const request = postChat(
      t,
      key,
      {
        model: 'gpt-6-luna',
        messages: [{ role: 'user', content: 'one two three four five' }],
      },
      AbortSignal.timeout(300),
    );
    await expect(request).rejects.toThrow();
    await vi.waitFor(async () => expect(await usageEvents(t, accountId)).toHaveLength(1), { timeout: 5000 });
    const [event] = await usageEvents(t, accountId);
    expect(event).toMatchObject({
      status: 'aborted',
      estimated: true,
      prompt_tokens: 5,
      completion_tokens: 0,
    });
    expect(event.cost).toBe(String(5 * 10));
    const m = await money(t, accountId);
    expect(m).toEqual({ balance: 500n * MICRO - 50n, held: 0n, ledger: 500n * MICRO - 50n, holds: 0 });
    expect(fakes.openai.chatRequests()).toHaveLength(1); // reached the provider once, not retried elsewhere
  });
});
