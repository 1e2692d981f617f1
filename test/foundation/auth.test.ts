import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, signup, startApp, type TestApp } from '../support/app.js';

describe('accounts: sign-up and login', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ ADMIN_EMAIL: 'root@conflux.test', ADMIN_PASSWORD: 'root-password-1' });
    const { AccountsService } = await import('../../src/accounts/accounts.service.js');
    await t.app.get(AccountsService).ensureAdmin();
  });
  afterAll(() => t.close());

  it('signs up on the Free plan with 500 credits recorded in the ledger, and returns a session', async () => {
    const res = await call(t, 'POST', '/auth/signup', {
      email: 'Alice@Example.com',
      password: 'a-long-password',
    });
    expect(res.status).toBe(201);
    expect(res.body.token).toEqual(expect.any(String));
    expect(res.body.account).toMatchObject({
      email: 'alice@example.com',
      plan: 'free',
      role: 'user',
      status: 'active',
    });
    const [row] = await t.db.query(
      `SELECT a.balance_micro, (SELECT sum(amount_micro) FROM credit_ledger l WHERE l.account_id = a.id) AS ledger
         FROM accounts a WHERE a.id = $1`,
      [res.body.account.id],
    );
    expect(BigInt(row.balance_micro)).toBe(500_000_000n);
    expect(BigInt(row.ledger)).toBe(500_000_000n);
  });

  it('refuses a second account with the same email, whatever its case', async () => {
    await signup(t, 'bob@example.com');
    const res = await call(t, 'POST', '/auth/signup', {
      email: 'BOB@example.com',
      password: 'another-password',
    });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ param: 'email', code: 'email_taken' });
  });

  it('rejects a bad email or short password with a 400 naming the field', async () => {
    const badEmail = await call(t, 'POST', '/auth/signup', {
      email: 'not-an-email',
      password: 'a-long-password',
    });
    expect(badEmail.status).toBe(400);
    expect(badEmail.body.error).toMatchObject({ type: 'invalid_request_error', param: 'email' });
    const shortPassword = await call(t, 'POST', '/auth/signup', {
      email: 'c@example.com',
      password: 'short',
    });
    expect(shortPassword.status).toBe(400);
    expect(shortPassword.body.error.param).toBe('password');
  });

  it('logs in with the right password only', async () => {
    await signup(t, 'carol@example.com');
    const ok = await call(t, 'POST', '/auth/login', {
      email: 'carol@example.com',
      password: 'a-long-password',
    });
    expect(ok.status).toBe(200);
    const keys = await call(t, 'GET', '/v1/keys', undefined, ok.body.token);
    expect(keys.status).toBe(200);

    const wrong = await call(t, 'POST', '/auth/login', {
      email: 'carol@example.com',
      password: 'wrong-password',
    });
    expect(wrong.status).toBe(401);
    const unknown = await call(t, 'POST', '/auth/login', {
      email: 'nobody@example.com',
      password: 'wrong-password',
    });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.message).toBe(wrong.body.error.message);
  });

  it('stores passwords only as argon2id hashes', async () => {
    const rows = await t.db.query(`SELECT password_hash FROM accounts WHERE email = 'carol@example.com'`);
    expect(rows[0].password_hash).toMatch(/^\$argon2id\$/);
  });

  it('rejects a forged or expired session token', async () => {
    const forged = await call(t, 'GET', '/v1/keys', undefined, 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig');
    expect(forged.status).toBe(401);
    expect(forged.body.error.code).toBe('invalid_api_key');
  });

  it('creates the first admin from ADMIN_EMAIL/ADMIN_PASSWORD', async () => {
    const res = await call(t, 'POST', '/auth/login', {
      email: 'root@conflux.test',
      password: 'root-password-1',
    });
    expect(res.status).toBe(200);
    expect(res.body.account.role).toBe('admin');
  });
});
