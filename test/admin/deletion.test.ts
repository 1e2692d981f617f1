import { afterAll, describe, expect, it } from 'vitest';
import { PurgeService } from '../../src/admin/purge.service.js';
import { ManualClock } from '../../src/common/clock.js';
import { call, createKey, signup, startApp, type TestApp } from '../support/app.js';
import { money } from '../support/billing.js';
import { gatewayEnv, useGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { ADMIN_ENV, staffSessions } from './support.js';

const DAY = 24 * 60 * 60 * 1000;
/** A second instance needs a database both can reach and Redis for the revocation broadcast. */
const SHARED = Boolean(process.env.REDIS_URL && process.env.DATABASE_URL);

/** The tables that keep naming a purged account: the financial records (and the audit log, by id only). */
const KEPT = new Set(['accounts', 'credit_ledger', 'audit_log']);

describe('account deletion and the 30-day purge', () => {
  const clock = new ManualClock(Date.now());
  const g = useGateway({ env: ADMIN_ENV, clock });
  let second: TestApp | undefined;
  afterAll(async () => {
    await second?.close();
  });

  async function chat(key: string, headers: Record<string, string> = {}) {
    return call(
      g.t,
      'POST',
      '/v1/chat/completions',
      { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 },
      key,
      headers,
    );
  }

  /** Every table of the schema with a row whose text contains `needle`. */
  async function tablesNaming(needle: string): Promise<string[]> {
    const tables = (await g.t.db.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    )) as Array<{ table_name: string }>;
    const found: string[] = [];
    for (const { table_name: table } of tables) {
      const [row] = await g.t.db.query(`SELECT count(*)::int AS n FROM "${table}" t WHERE t::text ILIKE $1`, [
        `%${needle}%`,
      ]);
      if (row.n > 0) {
        found.push(table);
      }
    }
    return found.sort();
  }

  it('the owner deletes the account: keys refused at once (on another instance too), sessions ended, log-in refused; the purge 30 days later leaves only the financial records', async () => {
    const { support } = await staffSessions(g.t);
    const acct = await signup(g.t);
    const live = await createKey(g.t, acct.token, 'live');
    const test = await createKey(g.t, acct.token, 'test');
    expect((await chat(live.key, { 'idempotency-key': 'first-call' })).status).toBe(200);
    expect((await chat(test.key)).status).toBe(200);
    await waitFor(
      async () =>
        (await g.t.db.query(`SELECT 1 FROM usage_events WHERE account_id = $1`, [acct.accountId])).length >=
        2,
      5_000,
      'usage events',
    );
    if (SHARED) {
      second = await startApp(gatewayEnv(g.fakes), { shareDatabaseWith: g.t, clock });
      expect((await call(second, 'GET', '/v1/keys', undefined, live.key)).status).toBe(200); // cached there
    }

    const wrong = await call(g.t, 'DELETE', '/v1/account', { password: 'not-the-password' }, acct.token);
    expect(wrong.status).toBe(401);
    const deleted = await call(g.t, 'DELETE', '/v1/account', { password: 'a-long-password' }, acct.token);
    expect(deleted.status).toBe(200);
    expect(deleted.body.status).toBe('pending_deletion');
    expect(new Date(deleted.body.purge_after).getTime()).toBe(clock.now() + 30 * DAY);

    expect((await chat(live.key)).status).toBe(401);
    expect((await chat(test.key)).status).toBe(401);
    expect((await call(g.t, 'GET', '/v1/keys', undefined, acct.token)).status).toBe(401);
    const login = await call(g.t, 'POST', '/auth/login', { email: acct.email, password: 'a-long-password' });
    expect(login.status).toBe(403);
    if (second) {
      const other = second;
      await waitFor(
        async () => (await call(other, 'GET', '/v1/keys', undefined, live.key)).status === 401,
        1_000,
        'the revocation on the second instance',
      );
    }

    // Deleting twice is harmless: the same schedule, one audit entry.
    const again = await call(
      g.t,
      'POST',
      `/admin/accounts/${acct.accountId}/deletion`,
      { reason: 'Ticket #5: asked twice' },
      support,
    );
    expect(again.status).toBe(200);
    expect(again.body.purge_after).toBe(deleted.body.purge_after);
    const audit = await call(g.t, 'GET', `/admin/audit?target=${acct.accountId}`, undefined, support);
    expect(audit.body.data.map((e: { action: string }) => e.action)).toEqual(['account.deletion_request']);
    expect(audit.body.data[0].actor_role).toBe('user');

    const purge = g.t.app.get(PurgeService);
    clock.advance(30 * DAY - 60_000);
    expect(await purge.purgeDue()).toBe(0); // not yet
    clock.advance(60_000);
    expect(await purge.purgeDue()).toBe(1);
    expect(await purge.purgeDue()).toBe(0); // twice: nothing left to do

    expect(await tablesNaming(acct.email)).toEqual([]);
    const naming = await tablesNaming(acct.accountId);
    expect(naming.filter((t) => !KEPT.has(t))).toEqual([]);
    const [row] = await g.t.db.query(`SELECT email, password_hash, status FROM accounts WHERE id = $1`, [
      acct.accountId,
    ]);
    expect(row).toEqual({
      email: `deleted-${acct.accountId}@purged.invalid`,
      password_hash: '!',
      status: 'deleted',
    });
    const m = await money(g.t, acct.accountId);
    expect(m.ledger).toBe(m.balance); // the ledger is kept, and still adds up
    const [ledger] = await g.t.db.query(
      `SELECT count(*)::int AS n FROM credit_ledger WHERE account_id = $1`,
      [acct.accountId],
    );
    expect(ledger.n).toBeGreaterThanOrEqual(2); // the sign-up grant and the call's usage

    // After the purge: still harmless, and it cannot be cancelled.
    const late = await call(
      g.t,
      'POST',
      `/admin/accounts/${acct.accountId}/deletion`,
      { reason: 'Ticket #5: once more' },
      support,
    );
    expect(late.status).toBe(200);
    expect(late.body.status).toBe('deleted');
    const cancel = await call(
      g.t,
      'DELETE',
      `/admin/accounts/${acct.accountId}/deletion`,
      { reason: 'too late' },
      support,
    );
    expect(cancel.status).toBe(409);
  });

  it('support deletes an account and cancels before the purge: active again, old keys stay revoked', async () => {
    const { support } = await staffSessions(g.t);
    const acct = await signup(g.t);
    const { key } = await createKey(g.t, acct.token, 'live');
    const url = `/admin/accounts/${acct.accountId}/deletion`;
    expect((await call(g.t, 'POST', url, { reason: 'Ticket #6: by email' }, support)).status).toBe(200);
    expect((await call(g.t, 'GET', '/v1/keys', undefined, key)).status).toBe(401);
    const cancelled = await call(g.t, 'DELETE', url, { reason: 'Ticket #6: changed their mind' }, support);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({
      status: 'active',
      purge_after: null,
      deletion_requested_at: null,
    });
    expect(
      (await call(g.t, 'POST', '/auth/login', { email: acct.email, password: 'a-long-password' })).status,
    ).toBe(200);
    expect((await call(g.t, 'GET', '/v1/keys', undefined, key)).status).toBe(401);
    // The deletion ended the sessions it found: the old token stays refused, a new log-in works.
    expect((await call(g.t, 'GET', '/v1/keys', undefined, acct.token)).status).toBe(401);
    clock.advance(31 * DAY);
    await g.t.app.get(PurgeService).purgeDue();
    const [row] = await g.t.db.query(`SELECT email, status FROM accounts WHERE id = $1`, [acct.accountId]);
    expect(row).toEqual({ email: acct.email, status: 'active' });
    expect((await call(g.t, 'DELETE', url, { reason: 'nothing scheduled' }, support)).status).toBe(409);
  });
});
