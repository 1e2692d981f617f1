import { describe, expect, it } from 'vitest';
import { call, createKey, signup } from '../support/app.js';
import { money } from '../support/billing.js';
import { useGateway } from '../support/gateway.js';
import { ADMIN_ENV, login, staffSessions } from './support.js';

describe('admin: accounts, credits, keys, plans, staff, audit', () => {
  const g = useGateway({ env: ADMIN_ENV });

  it('finds an account by email, id and key, and shows it without content', async () => {
    const { support } = await staffSessions(g.t);
    const acct = await signup(g.t);
    const key = await createKey(g.t, acct.token, 'live');
    for (const q of [acct.email, acct.email.slice(0, 12), acct.accountId, key.id, key.key.slice(0, 12)]) {
      const res = await call(g.t, 'GET', `/admin/accounts?q=${encodeURIComponent(q)}`, undefined, support);
      expect(res.status, q).toBe(200);
      expect(
        res.body.data.map((a: { id: string }) => a.id),
        q,
      ).toContain(acct.accountId);
    }
    const none = await call(g.t, 'GET', '/admin/accounts?q=cus_nobody', undefined, support);
    expect(none.body.data).toEqual([]);
    const page = await call(g.t, 'GET', '/admin/accounts?limit=1', undefined, support);
    expect(page.body.data).toHaveLength(1);
    expect(page.body.has_more).toBe(true);

    const view = await call(g.t, 'GET', `/admin/accounts/${acct.accountId}`, undefined, support);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({
      id: acct.accountId,
      plan: 'free',
      status: 'active',
      subscription: false,
    });
    expect(view.body.credits).toMatchObject({ balance: '500', included: '500' });
    expect(view.body.keys).toEqual([expect.objectContaining({ id: key.id, last_used_at: null })]);
    expect(JSON.stringify(view.body)).not.toContain(key.key);

    const missing = await call(g.t, 'GET', `/admin/accounts/${crypto.randomUUID()}`, undefined, support);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });

  it('suspends (live calls 403 with a clear message, sessions and log-in refused) and reactivates', async () => {
    const { support } = await staffSessions(g.t);
    const acct = await signup(g.t);
    const { key } = await createKey(g.t, acct.token, 'live');
    const reason = { reason: 'Ticket #1: abuse report' };
    const suspended = await call(g.t, 'POST', `/admin/accounts/${acct.accountId}/suspend`, reason, support);
    expect(suspended.status).toBe(200);
    expect(suspended.body.status).toBe('suspended');
    const chat = await call(
      g.t,
      'POST',
      '/v1/chat/completions',
      { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'hi' }] },
      key,
    );
    expect(chat.status).toBe(403);
    expect(chat.body.error.message).toBe('This account is suspended. Contact support to restore access.');
    expect((await call(g.t, 'GET', '/v1/keys', undefined, acct.token)).status).toBe(401);
    const relogin = await call(g.t, 'POST', '/auth/login', {
      email: acct.email,
      password: 'a-long-password',
    });
    expect(relogin.status).toBe(403);

    const back = await call(g.t, 'POST', `/admin/accounts/${acct.accountId}/reactivate`, reason, support);
    expect(back.body.status).toBe('active');
    expect((await call(g.t, 'GET', '/v1/keys', undefined, key)).status).toBe(200);
    const noReason = await call(g.t, 'POST', `/admin/accounts/${acct.accountId}/suspend`, {}, support);
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.param).toBe('reason');
  });

  it('grants credits once per Idempotency-Key: in the ledger, the balance and the audit log', async () => {
    const { support } = await staffSessions(g.t);
    const acct = await signup(g.t);
    const body = { credits: '250', reason: 'Ticket #2: outage refund' };
    const headers = { 'idempotency-key': `refund-${acct.accountId}` };
    const first = await call(
      g.t,
      'POST',
      `/admin/accounts/${acct.accountId}/credits`,
      body,
      support,
      headers,
    );
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ applied: true, balance: '750' });
    expect(first.body.entry).toMatchObject({ kind: 'adjustment', credits: '250', note: body.reason });
    const again = await call(
      g.t,
      'POST',
      `/admin/accounts/${acct.accountId}/credits`,
      body,
      support,
      headers,
    );
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ applied: false, entry: first.body.entry });
    const other = await call(
      g.t,
      'POST',
      `/admin/accounts/${acct.accountId}/credits`,
      { ...body, credits: '999' },
      support,
      headers,
    );
    expect(other.status).toBe(400);
    expect(other.body.error.code).toBe('idempotency_key_reused');

    const m = await money(g.t, acct.accountId);
    expect(m.balance).toBe(750_000_000n);
    expect(m.ledger).toBe(m.balance);
    const ledger = await call(
      g.t,
      'GET',
      `/admin/accounts/${acct.accountId}/ledger?limit=1`,
      undefined,
      support,
    );
    expect(ledger.body.data).toEqual([first.body.entry]);
    expect(ledger.body.has_more).toBe(true);
    const next = await call(
      g.t,
      'GET',
      `/admin/accounts/${acct.accountId}/ledger?before=${first.body.entry.id}`,
      undefined,
      support,
    );
    expect(next.body.data.map((e: { kind: string }) => e.kind)).toEqual(['grant']);
    expect((await call(g.t, 'GET', '/v1/credits', undefined, acct.token)).body.balance).toBe('750');

    const audit = await call(g.t, 'GET', `/admin/audit?target=${acct.accountId}`, undefined, support);
    expect(audit.body.data).toHaveLength(1);
    expect(audit.body.data[0]).toMatchObject({
      action: 'credits.grant',
      actor_role: 'support',
      target_type: 'account',
      reason: body.reason,
      before: { balance: '500' },
      after: { balance: '750', credits: '250' },
    });
    expect(audit.body.data[0].request_id).toMatch(/^req_/);

    const missingKey = await call(g.t, 'POST', `/admin/accounts/${acct.accountId}/credits`, body, support);
    expect(missingKey.status).toBe(400);
    expect(missingKey.body.error.param).toBe('Idempotency-Key');
  });

  it('refuses a deduction below zero on Free unless forced', async () => {
    const { support } = await staffSessions(g.t);
    const acct = await signup(g.t);
    const url = `/admin/accounts/${acct.accountId}/credits`;
    const body = { credits: '-600', reason: 'Ticket #3: chargeback' };
    const refused = await call(g.t, 'POST', url, body, support, { 'idempotency-key': 'd1' });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('balance_below_zero');
    const forced = await call(g.t, 'POST', url, { ...body, force: true }, support, {
      'idempotency-key': 'd1',
    });
    expect(forced.status).toBe(200);
    expect(forced.body.balance).toBe('-100');
    const bad = await call(g.t, 'POST', url, { ...body, credits: '1.5e3' }, support, {
      'idempotency-key': 'd2',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('credits');
  });

  it('revokes any key of an account', async () => {
    const { support } = await staffSessions(g.t);
    const acct = await signup(g.t);
    const key = await createKey(g.t, acct.token, 'live');
    expect((await call(g.t, 'GET', '/v1/keys', undefined, key.key)).status).toBe(200);
    const res = await call(g.t, 'DELETE', `/admin/keys/${key.id}?reason=leaked`, undefined, support);
    expect(res.status).toBe(200);
    expect(res.body.revoked_at).not.toBeNull();
    expect((await call(g.t, 'GET', '/v1/keys', undefined, key.key)).status).toBe(401);
    expect((await call(g.t, 'DELETE', '/admin/keys/key_nope', undefined, support)).status).toBe(404);
  });

  it('comps a plan without Stripe: the allocation moves by the difference, and back', async () => {
    const { support } = await staffSessions(g.t);
    const acct = await signup(g.t);
    const url = `/admin/accounts/${acct.accountId}/plan`;
    const up = await call(g.t, 'POST', url, { plan: 'pro', reason: 'Ticket #4: partner comp' }, support);
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ plan: 'pro', via: 'direct', credits_moved: '29500' });
    expect((await money(g.t, acct.accountId)).balance).toBe(30_000_000_000n);
    const same = await call(g.t, 'POST', url, { plan: 'pro', reason: 'again' }, support);
    expect(same.body.credits_moved).toBe('0');
    const down = await call(g.t, 'POST', url, { plan: 'free', reason: 'Ticket #4: comp ended' }, support);
    expect(down.body).toMatchObject({ plan: 'free', credits_moved: '-29500' });
    const m = await money(g.t, acct.accountId);
    expect(m.balance).toBe(500_000_000n);
    expect(m.ledger).toBe(m.balance);
    expect((await call(g.t, 'POST', url, { plan: 'gold', reason: 'x y z' }, support)).status).toBe(400);
  });

  it('lets admins create staff and change roles, never demoting the last admin', async () => {
    const { admin } = await staffSessions(g.t);
    const staff = await call(g.t, 'GET', '/admin/staff', undefined, admin);
    const root = staff.body.data.find((a: { email: string }) => a.email === ADMIN_ENV.ADMIN_EMAIL);
    const demote = await call(g.t, 'PATCH', `/admin/staff/${root.id}`, { role: 'support' }, admin);
    expect(demote.status).toBe(409);
    expect(demote.body.error.code).toBe('last_admin');

    const email = `second-admin-${Date.now()}@conflux.test`;
    const created = await call(
      g.t,
      'POST',
      '/admin/staff',
      { email, password: 'second-password', role: 'admin' },
      admin,
    );
    expect(created.status).toBe(201);
    const second = await login(g.t, email, 'second-password');
    expect((await call(g.t, 'PATCH', `/admin/staff/${root.id}`, { role: 'support' }, second)).status).toBe(
      200,
    );
    // The old admin is support now: admin-only routes refuse it at once.
    expect((await call(g.t, 'GET', '/admin/staff', undefined, admin)).status).toBe(403);
    expect((await call(g.t, 'PATCH', `/admin/staff/${root.id}`, { role: 'admin' }, second)).status).toBe(200);
    const taken = await call(
      g.t,
      'POST',
      '/admin/staff',
      { email, password: 'second-password', role: 'support' },
      admin,
    );
    expect(taken.status).toBe(409);
    const roles = await call(g.t, 'GET', `/admin/audit?action=staff.role`, undefined, admin);
    expect(roles.body.data.map((e: { after: { role: string } }) => e.after.role)).toEqual([
      'admin',
      'support',
    ]);
  });

  it('keeps the audit log append-only: the database refuses UPDATE, DELETE and TRUNCATE', async () => {
    const { support } = await staffSessions(g.t);
    const acct = await signup(g.t);
    await call(g.t, 'POST', `/admin/accounts/${acct.accountId}/suspend`, { reason: 'audit test' }, support);
    const [row] = await g.t.db.query(`SELECT id FROM audit_log WHERE target_id = $1`, [acct.accountId]);
    expect(row).toBeDefined();
    await expect(
      g.t.db.query(`UPDATE audit_log SET reason = 'edited' WHERE id = $1`, [row.id]),
    ).rejects.toThrow(/append-only/);
    await expect(g.t.db.query(`DELETE FROM audit_log WHERE id = $1`, [row.id])).rejects.toThrow(
      /append-only/,
    );
    await expect(g.t.db.query(`TRUNCATE audit_log`)).rejects.toThrow(/append-only/);
  });
});
