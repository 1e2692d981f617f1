import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertsRepository } from '../../src/billing/alerts/alerts.repository.js';
import { AlertsService } from '../../src/billing/alerts/alerts.service.js';
import { verifySignature } from '../../src/billing/alerts/signature.js';
import { MeteringService } from '../../src/billing/metering.service.js';
import { startFakes, type Fakes } from '../fakes/index.js';
import { SmtpCatcher } from '../fakes/smtp.js';
import { ManualClock } from '../../src/common/clock.js';
import { KeysService } from '../../src/keys/keys.service.js';
import { gatewayEnv, useGateway } from '../support/gateway.js';
import { call, createKey, signup, startApp, type TestApp } from '../support/app.js';
import { MICRO, setBalance } from '../support/billing.js';

// The tests scan and deliver themselves: the timers never run during the suite.
const QUIET = { ALERT_SCAN_INTERVAL_MS: '3600000', ALERT_DELIVER_INTERVAL_MS: '3600000' };

// 0.1 credits a request (see key-limits.test.ts)
const TENTH = {
  model: 'gpt-6-luna',
  messages: [{ role: 'user' as const, content: 'one two three four five' }],
  max_tokens: 1999,
};

interface Received {
  body: string;
  signature: string;
}

/** A webhook receiver: records what it gets; answers 500 while `failing` > 0. */
async function receiver() {
  const received: Received[] = [];
  const state = { failing: 0 };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      if (state.failing > 0) {
        state.failing -= 1;
        res.statusCode = 500;
        return res.end('down');
      }
      received.push({ body, signature: String(req.headers['conflux-signature']) });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { received, state, url, close: () => new Promise((r) => server.close(r)) };
}

describe('alerts before money runs out', () => {
  const clock = new ManualClock();
  const g = useGateway({ resetFakes: false, clock, env: { ...QUIET, ALERT_WEBHOOK_ALLOW_PRIVATE: 'true' } });
  let t: TestApp;
  let hook: Awaited<ReturnType<typeof receiver>>;
  let alerts: AlertsService;
  beforeAll(async () => {
    t = g.t;
    hook = await receiver();
    alerts = t.app.get(AlertsService);
  });
  afterAll(() => hook.close());

  async function account(plan: 'free' | 'power' = 'free') {
    const { token, accountId } = await signup(t);
    if (plan !== 'free') {
      await t.db.query(`UPDATE accounts SET plan = $2 WHERE id = $1`, [accountId, plan]);
      await t.app.get(KeysService).accountChanged(accountId);
    }
    const settings = await call(t, 'PATCH', '/v1/alerts', { alert_webhook_url: hook.url }, token);
    expect(settings.status).toBe(200);
    const { key } = await createKey(t, token, 'live');
    return { token, accountId, key, secret: settings.body.webhook_secret as string };
  }

  function eventsOf(accountId: string) {
    return hook.received
      .map((r) => ({ ...r, event: JSON.parse(r.body) }))
      .filter((r) => r.event.account_id === accountId);
  }

  it('sends 80 %, 95 % and 100 % of a Free allocation once each, signed', async () => {
    const { accountId, key, secret } = await account();
    await setBalance(t, accountId, 100n * MICRO + 50_000n); // 79.99 % used
    await alerts.scan(true);
    expect(await alerts.deliver()).toBe(0);

    expect((await call(t, 'POST', '/v1/chat/completions', TENTH, key)).status).toBe(200); // 80.01 %
    await Promise.all([alerts.scan(), alerts.scan(true), alerts.scan(true)]);
    await alerts.scan(true);
    await alerts.deliver();
    expect(eventsOf(accountId).map((e) => e.event.data.threshold_percent)).toEqual([80]);

    await setBalance(t, accountId, 25n * MICRO); // 95 %
    await alerts.scan(true);
    await setBalance(t, accountId, 0n); // 100 %
    await alerts.scan(true);
    await alerts.scan(true);
    await alerts.deliver();
    const events = eventsOf(accountId);
    expect(events.map((e) => e.event.data.threshold_percent)).toEqual([80, 95, 100]);
    for (const e of events) {
      expect(e.event.type).toBe('credits.threshold');
      expect(verifySignature(secret, e.body, e.signature, Math.floor(clock.now() / 1000))).toBe(true);
      expect(verifySignature('whsec_other', e.body, e.signature, Math.floor(clock.now() / 1000))).toBe(false);
      expect(verifySignature(secret, e.body + ' ', e.signature, Math.floor(clock.now() / 1000))).toBe(false);
    }
    expect(new Set(events.map((e) => e.event.id)).size).toBe(3);
  });

  it('fires an alert once when several settle and scan at once', async () => {
    const { accountId, key } = await account();
    await setBalance(t, accountId, 101n * MICRO); // 79.8 %: a few requests cross 80 % together
    const results = await Promise.all(
      Array.from({ length: 20 }, () => call(t, 'POST', '/v1/chat/completions', TENTH, key)),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    const repo = t.app.get(AlertsRepository);
    const [{ period_start }] = await t.db.query(`SELECT period_start FROM accounts WHERE id = $1`, [
      accountId,
    ]);
    const fired = await Promise.all(
      Array.from({ length: 10 }, () =>
        repo.fire(accountId, new Date(period_start), 'usage_80', clock.date(), []),
      ),
    );
    // the scans (per settlement and full) raced these inserts: at most one of all of them won
    await Promise.all([alerts.scan(true), alerts.scan(true)]);
    expect(fired.filter(Boolean).length).toBeLessThanOrEqual(1);
    const [{ n }] = await t.db.query(
      `SELECT count(*)::int AS n FROM alerts_sent WHERE account_id = $1 AND alert = 'usage_80'`,
      [accountId],
    );
    expect(n).toBe(1);
  });

  it('tells a paid account when it enters overage, and a key at 90 % of its limit', async () => {
    const { token, accountId, key } = await account('power');
    await setBalance(t, accountId, 50_000n);
    const limited = await createKey(t, token, 'live');
    await call(t, 'PATCH', `/v1/keys/${limited.id}`, { credit_limit: '1' }, token);
    for (let i = 0; i < 8; i++) {
      expect((await call(t, 'POST', '/v1/chat/completions', TENTH, limited.key)).status).toBe(200);
    }
    await alerts.scan();
    await alerts.deliver();
    expect(eventsOf(accountId).map((e) => e.event.type)).toEqual(['credits.overage']);
    expect((await call(t, 'POST', '/v1/chat/completions', TENTH, limited.key)).status).toBe(200); // 0.9
    expect((await call(t, 'POST', '/v1/chat/completions', TENTH, key)).status).toBe(200);
    await alerts.scan();
    await alerts.scan(true);
    await alerts.deliver();
    const events = eventsOf(accountId);
    expect(events.map((e) => e.event.type)).toEqual(['credits.overage', 'key.credit_limit_threshold']);
    expect(events[1].event.data).toMatchObject({
      key_id: limited.id,
      credit_limit: '1',
      spent_credits: '0.9',
    });
  });

  it('retries a failing webhook with backoff until it is accepted', async () => {
    const { accountId, key } = await account();
    await setBalance(t, accountId, 100n * MICRO + 50_000n);
    hook.state.failing = 2;
    await call(t, 'POST', '/v1/chat/completions', TENTH, key);
    await alerts.scan();
    expect(await alerts.deliver()).toBe(0);
    expect(await alerts.deliver()).toBe(0); // not due again yet
    clock.advance(10_000);
    expect(await alerts.deliver()).toBe(0); // second failure: next try in 20 s
    clock.advance(19_000);
    expect(await alerts.deliver()).toBe(0);
    clock.advance(1_000);
    expect(await alerts.deliver()).toBe(1);
    expect(eventsOf(accountId)).toHaveLength(1);
    const [row] = await t.db.query(`SELECT attempts, delivered_at FROM alert_outbox WHERE account_id = $1`, [
      accountId,
    ]);
    expect(row.attempts).toBe(3);
    expect(row.delivered_at).not.toBeNull();
  });

  it('switches alerts off per account, and sends them again in the next period', async () => {
    const { token, accountId, key } = await account();
    const off = await call(t, 'PATCH', '/v1/alerts', { thresholds: { usage_80: false } }, token);
    expect(off.body.thresholds).toMatchObject({ usage_80: false, usage_95: true });
    await setBalance(t, accountId, 100n * MICRO + 50_000n);
    await call(t, 'POST', '/v1/chat/completions', TENTH, key);
    await alerts.scan(true);
    await alerts.deliver();
    expect(eventsOf(accountId)).toHaveLength(0);

    await call(t, 'PATCH', '/v1/alerts', { thresholds: { usage_80: true } }, token);
    await alerts.scan(true);
    await alerts.deliver();
    expect(eventsOf(accountId)).toHaveLength(1);

    // the next period: its allocation is whole again, then 80 % of it is an alert of that period
    const [{ period_end }] = await t.db.query(`SELECT period_end FROM accounts WHERE id = $1`, [accountId]);
    clock.set(new Date(period_end).getTime() + 1000);
    await t.app.get(MeteringService).resetPeriods();
    await setBalance(t, accountId, 100n * MICRO + 50_000n);
    await call(t, 'POST', '/v1/chat/completions', TENTH, key);
    await alerts.scan();
    await alerts.deliver();
    expect(eventsOf(accountId)).toHaveLength(2);
  });

  it('refuses bad settings with 400 naming the field, and rolls the secret', async () => {
    const { token } = await signup(t);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ alert_webhook_url: 'ftp://example.com/x' }, 'alert_webhook_url'],
      [{ alert_webhook_url: 'not a url' }, 'alert_webhook_url'],
      [{ alert_webhook_url: 'https://user:pw@example.com/x' }, 'alert_webhook_url'],
      [{ thresholds: { usage_50: true } }, 'thresholds.usage_50'],
      [{ thresholds: { usage_80: 'no' } }, 'thresholds.usage_80'],
    ];
    for (const [body, param] of cases) {
      const res = await call(t, 'PATCH', '/v1/alerts', body, token);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.param).toBe(param);
    }
    const before = (await call(t, 'GET', '/v1/alerts', undefined, token)).body.webhook_secret;
    expect(before).toMatch(/^whsec_/);
    const rolled = await call(t, 'POST', '/v1/alerts/webhook-secret', undefined, token);
    expect(rolled.body.webhook_secret).not.toBe(before);
    expect(t.logs()).not.toContain(before);
    expect(t.logs()).not.toContain(rolled.body.webhook_secret);
  });
});

describe('alert mails', () => {
  const smtp = new SmtpCatcher();
  const clock = new ManualClock();
  let t: TestApp;
  let fakes: Fakes;
  beforeAll(async () => {
    fakes = await startFakes();
    await smtp.start();
    t = await startApp(
      gatewayEnv(fakes, {
        ...QUIET,
        ...smtp.env,
        REQUIRE_EMAIL_VERIFICATION: 'false',
        PUBLIC_URL: 'https://conflux.test',
      }),
      { clock },
    );
  });
  afterAll(async () => {
    await t?.close();
    await fakes?.close();
    await smtp.close();
  });

  it('mails the owner once per alert (no webhook needed)', async () => {
    const { token, accountId, email } = await signup(t);
    const { key } = await createKey(t, token, 'live');
    expect((await smtp.nextMail(email)).subject).toContain('Verify your email'); // the sign-up's own mail
    const alerts = t.app.get(AlertsService);
    await setBalance(t, accountId, 100n * MICRO + 50_000n);
    expect((await call(t, 'POST', '/v1/chat/completions', TENTH, key)).status).toBe(200);
    await alerts.scan();
    await alerts.scan(true);
    expect(await alerts.deliver()).toBe(1);
    const mail = await smtp.nextMail(email);
    expect(mail.subject).toBe('You have used 80% of your Conflux credits');
    expect(mail.text).toContain('400.05 of the 500 credits');
    expect(mail.html).toContain('<p>');
    expect(smtp.pending(email)).toBe(0);
  });
});

describe('webhook targets inside the network', () => {
  const g = useGateway({ resetFakes: false });
  it('are refused unless ALERT_WEBHOOK_ALLOW_PRIVATE is set', async () => {
    const { token } = await signup(g.t);
    for (const url of [
      'http://127.0.0.1:9/x',
      'http://localhost/x',
      'http://10.0.0.8/x',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]/x',
      'http://192.168.1.1/x',
    ]) {
      const res = await call(g.t, 'PATCH', '/v1/alerts', { alert_webhook_url: url }, token);
      expect(res.status, url).toBe(400);
      expect(res.body.error.param).toBe('alert_webhook_url');
    }
    expect(
      (await call(g.t, 'PATCH', '/v1/alerts', { alert_webhook_url: 'https://example.com/h' }, token)).status,
    ).toBe(200);
  });
});

describe.skipIf(!process.env.DATABASE_URL)('alerts on two instances', () => {
  const clock = new ManualClock();
  const g = useGateway({ resetFakes: false, clock, env: { ...QUIET, ALERT_WEBHOOK_ALLOW_PRIVATE: 'true' } });
  let other: TestApp;
  beforeAll(async () => {
    other = await startApp(gatewayEnv(g.fakes, { ...QUIET, ALERT_WEBHOOK_ALLOW_PRIVATE: 'true' }), {
      shareDatabaseWith: g.t,
      clock,
    });
  });
  afterAll(() => other?.close());

  it('fires each alert once when both scan at the same time', async () => {
    const hook = await receiver();
    try {
      const { token, accountId } = await signup(g.t);
      await call(g.t, 'PATCH', '/v1/alerts', { alert_webhook_url: hook.url }, token);
      await setBalance(g.t, accountId, 0n);
      const instances = [g.t, other].map((t) => t.app.get(AlertsService));
      await Promise.all(instances.flatMap((a) => [a.scan(true), a.scan(true)]));
      await Promise.all(instances.map((a) => a.deliver()));
      await Promise.all(instances.map((a) => a.deliver()));
      const got = hook.received.map((r) => JSON.parse(r.body).data.threshold_percent).sort();
      expect(got).toEqual([100, 80, 95]);
    } finally {
      await hook.close();
    }
  });
});
