import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { KeysRepository } from '../../src/keys/keys.repository.js';
import { KeysService } from '../../src/keys/keys.service.js';
import { call, createKey, signup, startApp, type TestApp } from '../support/app.js';

describe('API keys', () => {
  const clock = new ManualClock();
  let t: TestApp;
  let session: string;
  beforeAll(async () => {
    // last uses are flushed when a test says so, never by the timer in the middle of a test
    t = await startApp({ KEY_LAST_USED_FLUSH_MS: '600000' }, { clock });
    session = (await signup(t)).token;
  });
  afterAll(() => t.close());

  it('creates a key in the documented format and shows the raw key only once', async () => {
    const res = await call(t, 'POST', '/v1/keys', { name: 'backend', kind: 'live' }, session);
    expect(res.status).toBe(201);
    expect(res.body.key).toMatch(/^cf_live_[0-9A-Za-z]{38}$/);
    expect(res.body.id).toMatch(/^key_/);
    expect(res.body.display).toBe(`${res.body.key.slice(0, 12)}…${res.body.key.slice(-4)}`);

    const list = await call(t, 'GET', '/v1/keys', undefined, session);
    const listed = list.body.data.find((k: { id: string }) => k.id === res.body.id);
    expect(listed).toMatchObject({ name: 'backend', kind: 'live', revoked_at: null });
    expect(JSON.stringify(list.body)).not.toContain(res.body.key);
  });

  it('never stores or logs the raw key: no column of any table holds it', async () => {
    const { key } = await createKey(t, session, 'live');
    await call(t, 'GET', '/v1/keys', undefined, key); // use it once so it passes through the guard and logs
    await t.app.get(KeysService).flushLastUsed();
    const tables: Array<{ table_name: string }> = await t.db.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    expect(tables.length).toBeGreaterThan(2);
    for (const { table_name } of tables) {
      const rows = await t.db.query(`SELECT row_to_json(x)::text AS j FROM "${table_name}" x`);
      for (const row of rows) {
        expect(row.j).not.toContain(key);
        expect(row.j).not.toContain(key.slice(8, 40)); // not even the secret part
      }
    }
    await vi.waitFor(() => expect(t.logs()).toContain('"route":"/v1/keys"'));
    expect(t.logs()).not.toContain(key.slice(8, 40));
  });

  it('lets a live key manage keys but gives a test key 403', async () => {
    const live = await createKey(t, session, 'live');
    const test = await createKey(t, session, 'test');
    expect((await call(t, 'GET', '/v1/keys', undefined, live.key)).status).toBe(200);
    const denied = await call(t, 'GET', '/v1/keys', undefined, test.key);
    expect(denied.status).toBe(403);
    expect(denied.body.error.type).toBe('invalid_request_error');
  });

  it('rejects a key whose checksum fails without any database lookup', async () => {
    const { key } = await createKey(t, session, 'live');
    const spy = vi.spyOn(t.app.get(KeysRepository), 'findByHash');
    const lastChar = key.at(-1) === 'A' ? 'B' : 'A';
    const tampered = key.slice(0, -1) + lastChar;
    const res = await call(t, 'GET', '/v1/keys', undefined, tampered);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('invalid_api_key');
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });

  it('answers 401 invalid_api_key for missing, malformed and unknown keys', async () => {
    for (const token of [undefined, 'sk-whatever', 'cf_live_short']) {
      const res = await call(t, 'GET', '/v1/keys', undefined, token);
      expect(res.status).toBe(401);
      expect(res.body.error).toMatchObject({ code: 'invalid_api_key', type: 'invalid_request_error' });
    }
  });

  it('revokes a key: it stops working at once, and revoking it again keeps it revoked', async () => {
    const { key, id } = await createKey(t, session, 'live');
    expect((await call(t, 'GET', '/v1/keys', undefined, key)).status).toBe(200); // now cached
    const revoked = await call(t, 'DELETE', `/v1/keys/${id}`, undefined, session);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).not.toBeNull();
    const after = await call(t, 'GET', '/v1/keys', undefined, key);
    expect(after.status).toBe(401);
    const again = await call(t, 'DELETE', `/v1/keys/${id}`, undefined, session);
    expect(again.body.revoked_at).toBe(revoked.body.revoked_at);
  });

  it('rejects an expired key, and an expiry in the past at creation', async () => {
    const soon = new Date(clock.now() + 1500).toISOString();
    const { key } = await createKey(t, session, 'live', { expires_at: soon });
    expect((await call(t, 'GET', '/v1/keys', undefined, key)).status).toBe(200);
    clock.advance(1499);
    expect((await call(t, 'GET', '/v1/keys', undefined, key)).status).toBe(200);
    clock.advance(1);
    expect((await call(t, 'GET', '/v1/keys', undefined, key)).status).toBe(401);

    const past = await call(
      t,
      'POST',
      '/v1/keys',
      { name: 'x', kind: 'live', expires_at: '2020-01-01T00:00:00Z' },
      session,
    );
    expect(past.status).toBe(400);
    expect(past.body.error.param).toBe('expires_at');
    const invalid = await call(t, 'POST', '/v1/keys', { name: 'x', kind: 'gold' }, session);
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.param).toBe('kind');
  });

  it("never shows or revokes another account's key (404)", async () => {
    const other = await signup(t);
    const { key, id } = await createKey(t, other.token, 'live');
    const res = await call(t, 'DELETE', `/v1/keys/${id}`, undefined, session);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
    const list = await call(t, 'GET', '/v1/keys', undefined, session);
    expect(list.body.data.map((k: { id: string }) => k.id)).not.toContain(id);
    expect((await call(t, 'GET', '/v1/keys', undefined, key)).status).toBe(200);
  });

  it('rejects the keys of a suspended account', async () => {
    const acct = await signup(t);
    const { key } = await createKey(t, acct.token, 'live');
    expect((await call(t, 'GET', '/v1/keys', undefined, key)).status).toBe(200);
    await t.db.query(`UPDATE accounts SET status = 'suspended' WHERE id = $1`, [acct.accountId]);
    await t.app.get(KeysService).accountChanged(acct.accountId);
    const res = await call(t, 'GET', '/v1/keys', undefined, key);
    expect(res.status).toBe(403);
    expect(res.body.error.message).toMatch(/suspended/);
  });

  it('records last_used_at in batches, not per request', async () => {
    const { key, id } = await createKey(t, session, 'live');
    await call(t, 'GET', '/v1/keys', undefined, key);
    await call(t, 'GET', '/v1/keys', undefined, key);
    const lastUsed = async () =>
      (await call(t, 'GET', '/v1/keys', undefined, session)).body.data.find(
        (k: { id: string }) => k.id === id,
      ).last_used_at;
    expect(await lastUsed()).toBeNull(); // not written by the requests themselves
    await t.app.get(KeysService).flushLastUsed(); // what the flush timer does
    expect(await lastUsed()).toBe(clock.date().toISOString());
  });
});
