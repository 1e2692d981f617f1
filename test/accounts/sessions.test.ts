import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createKey, signup, startApp, type TestApp } from '../support/app.js';
import { money } from '../support/billing.js';

/** Two instances on one database need Postgres (an embedded PGlite belongs to one process). */
const SHARED = Boolean(process.env.DATABASE_URL);
/** No JWT_SECRET: the signing secret is generated at first start and kept in the database. */
const NO_SECRET = { JWT_SECRET: '', ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}) };

const keys = (t: TestApp, token: string) => call(t, 'GET', '/v1/keys', undefined, token);

describe('sessions: log-out, log-out everywhere, a signing secret kept in the database', () => {
  let a: TestApp;
  let b: TestApp | undefined;
  let dataDir: string | undefined;

  beforeAll(async () => {
    if (SHARED) {
      a = await startApp(NO_SECRET);
      b = await startApp(NO_SECRET, { shareDatabaseWith: a });
    } else {
      dataDir = mkdtempSync(join(tmpdir(), 'conflux-sessions-'));
      a = await startApp({ ...NO_SECRET, PGLITE_DATA_DIR: dataDir });
    }
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    if (dataDir) {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('logout ends this session only, at once (on another instance too)', async () => {
    const { token, email } = await signup(a);
    const second = (await call(a, 'POST', '/auth/login', { email, password: 'a-long-password' })).body.token;
    const other = b ?? a;
    expect((await keys(other, token)).status).toBe(200);
    const out = await call(a, 'POST', '/auth/logout', undefined, token);
    expect(out.status).toBe(200);
    expect(out.body).toEqual({ object: 'logout', sessions_ended: 1 });
    const refused = await keys(other, token);
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toMatch(/Log in again/);
    expect((await keys(a, token)).status).toBe(401);
    expect((await keys(other, second)).status).toBe(200);
    expect((await call(other, 'POST', '/auth/logout', undefined, token)).status).toBe(401);
  });

  it('logout-all ends every session of the account, on every instance', async () => {
    const { token, email, accountId } = await signup(a);
    const second = (await call(a, 'POST', '/auth/login', { email, password: 'a-long-password' })).body.token;
    const other = b ?? a;
    const out = await call(other, 'POST', '/auth/logout-all', undefined, second);
    expect(out.status).toBe(200);
    expect(out.body).toEqual({ object: 'logout', sessions_ended: 2 });
    expect((await keys(a, token)).status).toBe(401);
    expect((await keys(a, second)).status).toBe(401);
    // A new log-in works.
    const again = await call(a, 'POST', '/auth/login', { email, password: 'a-long-password' });
    expect((await keys(other, again.body.token)).status).toBe(200);
    const audit = await a.db.query(`SELECT action FROM audit_log WHERE target_id = $1 ORDER BY id`, [
      accountId,
    ]);
    expect(audit.map((r: { action: string }) => r.action)).toEqual(['account.logout_all']);
  });

  it('a forged token naming a session is refused; a live key cannot log out', async () => {
    const { token } = await signup(a);
    const live = await createKey(a, token, 'live');
    expect((await call(a, 'POST', '/auth/logout', undefined, live.key)).status).toBe(403);
    const [head, body] = token.split('.');
    expect((await keys(a, `${head}.${body}.forged`)).status).toBe(401);
  });

  it.skipIf(!SHARED)('another instance without JWT_SECRET accepts a session made by the first', async () => {
    const { token } = await signup(a);
    expect((await keys(b!, token)).status).toBe(200);
    const rows = await a.db.query(`SELECT count(*)::int AS n FROM app_secrets`);
    expect(rows[0].n).toBe(1);
  });

  it.skipIf(SHARED)(
    'a restart without JWT_SECRET keeps the sessions (the secret is in the database)',
    async () => {
      const { token } = await signup(a);
      await a.close();
      a = await startApp({ ...NO_SECRET, PGLITE_DATA_DIR: dataDir! });
      expect((await keys(a, token)).status).toBe(200);
    },
  );
});

describe('without SMTP_URL: nothing waits for mail', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(() => t.close());

  it('live keys work unverified, the grant comes at sign-up once per address, reset says it is unavailable', async () => {
    const first = await signup(t, 'c.d@gmail.com');
    const second = await signup(t, 'CD+promo@googlemail.com');
    expect((await money(t, first.accountId)).balance).toBe(500_000_000n);
    expect((await money(t, second.accountId)).balance).toBe(0n);
    const live = await createKey(t, first.token, 'live');
    // No provider is configured here: a 503, not a 403, means the key was let through.
    const res = await call(
      t,
      'POST',
      '/v1/chat/completions',
      { model: 'gpt-6-luna', messages: [] },
      live.key,
    );
    expect(res.status).not.toBe(403);
    const forgot = await call(t, 'POST', '/auth/password/forgot', { email: 'c.d@gmail.com' });
    expect(forgot.status).toBe(503);
    expect(forgot.body.error.code).toBe('mail_unavailable');
    expect(forgot.body.error.message).toMatch(/SMTP_URL is not set/);
    const resend = await call(t, 'POST', '/auth/verify/resend', undefined, first.token);
    expect(resend.status).toBe(503);
  });
});
