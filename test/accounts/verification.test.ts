import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { startFakes, type Fakes } from '../fakes/index.js';
import { SmtpCatcher, tokenOf } from '../fakes/smtp.js';
import { call, createKey, startApp, type TestApp } from '../support/app.js';
import { money } from '../support/billing.js';
import { client, gatewayEnv } from '../support/gateway.js';

const hi = [{ role: 'user' as const, content: 'hi' }];
const PASSWORD = 'a-long-password';

describe('email verification (SMTP catcher as the mail server, verification required)', () => {
  const smtp = new SmtpCatcher();
  const clock = new ManualClock(Date.parse('2026-11-30T09:00:00Z'));
  const tokens: string[] = [];
  let fakes: Fakes;
  let t: TestApp;

  beforeAll(async () => {
    await smtp.start();
    fakes = await startFakes();
    t = await startApp(gatewayEnv(fakes, { ...smtp.env, PUBLIC_URL: 'https://conflux.test' }), { clock });
  });
  afterAll(async () => {
    await t.close();
    await fakes.close();
    await smtp.close();
  });

  async function signupWithMail(email: string) {
    const res = await call(t, 'POST', '/auth/signup', { email, password: PASSWORD });
    expect(res.status).toBe(201);
    const mail = await smtp.nextMail(email);
    const token = tokenOf(mail);
    tokens.push(token);
    return { session: res.body.token as string, accountId: res.body.account.id as string, mail, token };
  }

  it('sign-up → mail → verify → the live key works; the free credits come with the verification', async () => {
    const { session, accountId, mail, token } = await signupWithMail('newcomer@example.com');
    expect(mail.subject).toBe('Verify your email address — Conflux Router');
    expect(mail.text).toContain(`https://conflux.test/verify?token=${token}`);
    expect(mail.html).toContain(`https://conflux.test/verify?token=${token}`);
    expect((await money(t, accountId)).balance).toBe(0n);

    const live = await createKey(t, session, 'live');
    const test = await createKey(t, session, 'test');
    // Test keys work before verification; the live key is refused with a message that says what to do.
    const mock = await client(t, test.key).chat.completions.create({ model: 'gpt-6-luna', messages: hi });
    expect(mock.choices[0].message.content).toEqual(expect.any(String));
    const refused = await call(
      t,
      'POST',
      '/v1/chat/completions',
      { model: 'gpt-6-luna', messages: hi },
      live.key,
    );
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('email_not_verified');
    expect(refused.body.error.message).toMatch(/verification mail/);

    const me = await call(t, 'POST', '/auth/login', { email: 'newcomer@example.com', password: PASSWORD });
    expect(me.body.account.email_verified).toBe(false);

    const verified = await call(t, 'POST', '/auth/verify', { token });
    expect(verified.status).toBe(200);
    expect(verified.body).toEqual({ object: 'email_verification', verified: true, credits_granted: true });
    expect((await money(t, accountId)).balance).toBe(500_000_000n);

    // At once, although the refusal above was cached.
    const ok = await client(t, live.key).chat.completions.create({
      model: 'gpt-6-luna',
      messages: hi,
      max_tokens: 1,
    });
    expect(ok.choices).toHaveLength(1);
    const after = await call(t, 'POST', '/auth/login', { email: 'newcomer@example.com', password: PASSWORD });
    expect(after.body.account.email_verified).toBe(true);

    const audit = await t.db.query(`SELECT action, after FROM audit_log WHERE target_id = $1`, [accountId]);
    expect(audit).toEqual([{ action: 'account.email_verified', after: { credits_granted: true } }]);
  });

  it('a token works once, is stored only as its SHA-256, and an unknown one is refused', async () => {
    const { token, accountId } = await signupWithMail('once@example.com');
    const rows = await t.db.query(`SELECT token_sha256 FROM account_tokens WHERE account_id = $1`, [
      accountId,
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0].token_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0].token_sha256).not.toContain(token);
    expect((await call(t, 'POST', '/auth/verify', { token })).status).toBe(200);
    const again = await call(t, 'POST', '/auth/verify', { token });
    expect(again.status).toBe(400);
    expect(again.body.error).toMatchObject({ param: 'token', code: 'invalid_token' });
    const unknown = await call(t, 'POST', '/auth/verify', { token: 'x'.repeat(43) });
    expect(unknown.status).toBe(400);
  });

  it('a verification link expires after 24 hours (moved clock)', async () => {
    const { token } = await signupWithMail('late@example.com');
    clock.advance(24 * 3600_000 + 1);
    const res = await call(t, 'POST', '/auth/verify', { token });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_token');
  });

  it('grants the free credits once per normalised address: a.b+x@gmail.com after ab@gmail.com gets none', async () => {
    const first = await signupWithMail('ab@gmail.com');
    expect((await call(t, 'POST', '/auth/verify', { token: first.token })).body.credits_granted).toBe(true);
    const second = await signupWithMail('A.B+x@gmail.com');
    const res = await call(t, 'POST', '/auth/verify', { token: second.token });
    expect(res.status).toBe(200);
    expect(res.body.credits_granted).toBe(false);
    expect((await money(t, first.accountId)).balance).toBe(500_000_000n);
    expect((await money(t, second.accountId)).balance).toBe(0n);
    // The grants table keeps a hash of the address, never the address.
    const grants = await t.db.query(`SELECT address_sha256 FROM free_grants WHERE account_id = $1`, [
      first.accountId,
    ]);
    expect(grants[0].address_sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('resends at most one mail a minute and five a day; a verified account has nothing to resend', async () => {
    const { session } = await signupWithMail('resend@example.com');
    const soon = await call(t, 'POST', '/auth/verify/resend', undefined, session);
    expect(soon.status).toBe(429);
    expect(Number(soon.headers.get('retry-after'))).toBeGreaterThan(0);
    for (let i = 0; i < 4; i++) {
      clock.advance(61_000);
      const ok = await call(t, 'POST', '/auth/verify/resend', undefined, session);
      expect(ok.status).toBe(202);
      tokens.push(tokenOf(await smtp.nextMail('resend@example.com')));
    }
    clock.advance(61_000);
    const daily = await call(t, 'POST', '/auth/verify/resend', undefined, session);
    expect(daily.status).toBe(429);
    expect(daily.body.error.message).toMatch(/5 verification mails a day/);
    // Any of the links verifies (the latest here).
    expect((await call(t, 'POST', '/auth/verify', { token: tokens.at(-1) })).status).toBe(200);
    const done = await call(t, 'POST', '/auth/verify/resend', undefined, session);
    expect(done.status).toBe(409);
    expect(done.body.error.code).toBe('email_already_verified');
  });

  it('resend takes a session, not an API key', async () => {
    const { session } = await signupWithMail('keyed@example.com');
    const test = await createKey(t, session, 'test');
    const res = await call(t, 'POST', '/auth/verify/resend', undefined, test.key);
    expect(res.status).toBe(403);
    expect((await call(t, 'POST', '/auth/verify/resend')).status).toBe(401);
  });

  it('never writes a token or a link to the log', () => {
    const logs = t.logs();
    expect(tokens.length).toBeGreaterThan(5);
    for (const token of tokens) {
      expect(logs).not.toContain(token);
    }
    expect(logs).not.toContain('/verify?token=');
  });
});
