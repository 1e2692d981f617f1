import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { SmtpCatcher, tokenOf } from '../fakes/smtp.js';
import { call, startApp, type TestApp } from '../support/app.js';

const PASSWORD = 'a-long-password';
const NEW_PASSWORD = 'another long pass phrase';

describe('passwords: policy, change, forgot and reset by mail', () => {
  const smtp = new SmtpCatcher();
  const clock = new ManualClock();
  const tokens: string[] = [];
  let t: TestApp;
  let ip = 0;
  /** A client address of its own for each test: the per-client limit is tested alone. */
  const client = () => ({ 'x-forwarded-for': `203.0.113.${++ip}` });

  beforeAll(async () => {
    await smtp.start();
    t = await startApp({ ...smtp.env, TRUST_PROXY: 'true' }, { clock });
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });

  async function account(email: string) {
    const res = await call(t, 'POST', '/auth/signup', { email, password: PASSWORD });
    expect(res.status).toBe(201);
    tokens.push(tokenOf(await smtp.nextMail(email))); // the verification mail
    return { session: res.body.token as string, accountId: res.body.account.id as string };
  }

  const login = (email: string, password: string) => call(t, 'POST', '/auth/login', { email, password });

  async function forgot(email: string, headers = client()) {
    return call(t, 'POST', '/auth/password/forgot', { email }, undefined, headers);
  }

  it('asks sign-up for 12 to 256 characters that are not a common password', async () => {
    const cases: Array<[string, RegExp]> = [
      ['elevenchars', /at least 12 characters/],
      ['x'.repeat(257) + 'abcde', /at most 256 characters/],
      ['1qaz2wsx3edc', /too common/],
      ['Password123456!', /too common/],
      ['aaaaaaaaaaaaaaaa', /too few different characters/],
    ];
    for (const [password, message] of cases) {
      const res = await call(t, 'POST', '/auth/signup', { email: 'weak@example.com', password });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe('password');
      expect(res.body.error.message).toMatch(message);
    }
  });

  it('forgot → mail → reset: the new password works, the old does not, every session ends', async () => {
    const { session, accountId } = await account('reset@example.com');
    const other = (await login('reset@example.com', PASSWORD)).body.token as string;
    const answer = await forgot('reset@example.com');
    expect(answer.status).toBe(202);
    const mail = await smtp.nextMail('reset@example.com');
    expect(mail.subject).toBe('Reset your password — Conflux Router');
    const token = tokenOf(mail);
    tokens.push(token);
    expect(mail.text).toContain(`/reset-password?token=${token}`);

    const reset = await call(t, 'POST', '/auth/password/reset', { token, password: NEW_PASSWORD });
    expect(reset.status).toBe(200);
    expect(reset.body).toMatchObject({ object: 'password_change', changed: true });
    expect((await login('reset@example.com', PASSWORD)).status).toBe(401);
    expect((await login('reset@example.com', NEW_PASSWORD)).status).toBe(200);
    for (const token of [session, other]) {
      expect((await call(t, 'GET', '/v1/keys', undefined, token)).status).toBe(401);
    }
    // Single use.
    const again = await call(t, 'POST', '/auth/password/reset', {
      token,
      password: 'yet another pass phrase',
    });
    expect(again.status).toBe(400);
    expect(again.body.error).toMatchObject({ param: 'token', code: 'invalid_token' });
    // The link came by mail: the address is verified with it.
    const [row] = await t.db.query(`SELECT email_verified_at FROM accounts WHERE id = $1`, [accountId]);
    expect(row.email_verified_at).not.toBeNull();
    const audit = await t.db.query(
      `SELECT action, after::text AS after FROM audit_log WHERE target_id = $1`,
      [accountId],
    );
    expect(audit.map((r: { action: string }) => r.action)).toEqual(['account.password_reset']);
    expect(audit[0].after).not.toContain(token);
  });

  it('a reset link expires after 1 hour (moved clock); the weak-password rule holds on reset', async () => {
    await account('slow@example.com');
    await forgot('slow@example.com');
    const token = tokenOf(await smtp.nextMail('slow@example.com'));
    tokens.push(token);
    const weak = await call(t, 'POST', '/auth/password/reset', { token, password: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.body.error.param).toBe('password');
    clock.advance(3600_000 + 1);
    const late = await call(t, 'POST', '/auth/password/reset', { token, password: NEW_PASSWORD });
    expect(late.status).toBe(400);
    expect(late.body.error.code).toBe('invalid_token');
    expect((await login('slow@example.com', PASSWORD)).status).toBe(200);
  });

  it('answers a forgot for an unknown address exactly as for a known one, and mails nobody', async () => {
    await account('known@example.com');
    const unknown = await forgot('nobody-here@example.com');
    const known = await forgot('known@example.com');
    expect(unknown.status).toBe(known.status);
    expect(unknown.body).toEqual(known.body);
    tokens.push(tokenOf(await smtp.nextMail('known@example.com')));
    expect(smtp.mails.some((m) => m.to.includes('nobody-here@example.com'))).toBe(false);
  });

  it('limits forgot to 3 an hour per address and 10 an hour per client, known address or not', async () => {
    for (const address of ['limited@example.com', 'limited-unknown@example.com']) {
      if (address === 'limited@example.com') {
        await account(address);
      }
      for (let i = 0; i < 3; i++) {
        expect((await forgot(address)).status).toBe(202);
      }
      const limited = await forgot(address);
      expect(limited.status).toBe(429);
      expect(limited.body.error.message).toMatch(/for this email address/);
    }
    for (let i = 0; i < 3; i++) {
      tokens.push(tokenOf(await smtp.nextMail('limited@example.com')));
    }
    const one = client();
    for (let i = 0; i < 10; i++) {
      expect((await forgot(`many-${i}@example.com`, one)).status).toBe(202);
    }
    const blocked = await forgot('many-10@example.com', one);
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.message).toMatch(/from this client address/);
  });

  it('change: the current password confirms it; other sessions end, this one goes on', async () => {
    const { session, accountId } = await account('change@example.com');
    const other = (await login('change@example.com', PASSWORD)).body.token as string;
    const wrong = await call(
      t,
      'POST',
      '/auth/password/change',
      { current_password: 'not-the-password', password: NEW_PASSWORD },
      session,
    );
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toMatchObject({ param: 'current_password', code: 'incorrect_password' });
    const weak = await call(
      t,
      'POST',
      '/auth/password/change',
      { current_password: PASSWORD, password: 'password1234' },
      session,
    );
    expect(weak.status).toBe(400);
    expect(weak.body.error.param).toBe('password');

    const changed = await call(
      t,
      'POST',
      '/auth/password/change',
      { current_password: PASSWORD, password: NEW_PASSWORD },
      session,
    );
    expect(changed.status).toBe(200);
    expect(changed.body).toEqual({ object: 'password_change', changed: true, sessions_ended: 1 });
    expect((await call(t, 'GET', '/v1/keys', undefined, session)).status).toBe(200);
    expect((await call(t, 'GET', '/v1/keys', undefined, other)).status).toBe(401);
    expect((await login('change@example.com', PASSWORD)).status).toBe(401);
    expect((await login('change@example.com', NEW_PASSWORD)).status).toBe(200);
    const audit = await t.db.query(`SELECT action, after FROM audit_log WHERE target_id = $1`, [accountId]);
    expect(audit).toEqual([{ action: 'account.password_changed', after: { sessions_ended: 1 } }]);
  });

  it('never writes a token, a link or a password to the log', () => {
    const logs = t.logs();
    expect(tokens.length).toBeGreaterThan(8);
    for (const secret of [...tokens, PASSWORD, NEW_PASSWORD]) {
      expect(logs).not.toContain(secret);
    }
    expect(logs).not.toMatch(/token=/);
  });
});
