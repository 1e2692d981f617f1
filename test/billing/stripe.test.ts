import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { startFakes, type Fakes } from '../fakes/index.js';
import { stripeEventPayload, type StripeEventObject } from '../fakes/stripe.js';
import { call, createKey, signup, startApp, type TestApp } from '../support/app.js';
import { MICRO, ledger, money, setBalance } from '../support/billing.js';
import { gatewayEnv } from '../support/gateway.js';

// gpt-6-luna costs 10 µcr per prompt token and 50 per completion token; the fakes answer exactly max_tokens
// tokens: 5 prompt tokens and 9,999 completion tokens cost 50 + 499,950 = 500,000 µcr = 0.5 credits.
const HALF_CREDIT = {
  model: 'gpt-6-luna',
  messages: [{ role: 'user' as const, content: 'one two three four five' }],
  max_tokens: 9_999,
};
const DAY = 86_400_000;

describe('billing with Stripe (the fake Stripe, signed webhooks, a manual clock)', () => {
  const clock = new ManualClock(Date.now());
  let fakes: Fakes;
  let t: TestApp;
  let hook: string;

  beforeAll(async () => {
    fakes = await startFakes(0, { stripe: { clock } });
    // No key cache: what a webhook changes (plan, payment state) is what the next call sees.
    t = await startApp(gatewayEnv(fakes, { KEY_CACHE_TTL_MS: '0', PAYMENT_GRACE_DAYS: '7' }), { clock });
    hook = `${t.url}/webhooks/stripe`;
  });

  afterAll(async () => {
    await t?.close();
    await fakes?.close();
  });

  async function deliverAll(events: StripeEventObject[], url = hook): Promise<void> {
    for (const event of events) {
      const res = await fakes.stripe.deliver(url, event);
      expect(res.status, res.body).toBe(200);
    }
  }

  /** Checkout for `body` as the account, then the customer pays: returns the events Stripe sends. */
  async function pay(
    token: string,
    body: unknown,
  ): Promise<{ session: string; events: StripeEventObject[] }> {
    const res = await call(t, 'POST', '/v1/billing/checkout', body, token);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.id).toMatch(/^cs_/);
    expect(res.body.url).toMatch(/^https:\/\//);
    return { session: res.body.id, events: fakes.stripe.completeCheckout(res.body.id) };
  }

  async function subscriptionOf(accountId: string): Promise<string> {
    const [row] = await t.db.query(`SELECT stripe_subscription_id FROM accounts WHERE id = $1`, [accountId]);
    return row.stripe_subscription_id as string;
  }

  async function credits(token: string) {
    const res = await call(t, 'GET', '/v1/credits', undefined, token);
    expect(res.status).toBe(200);
    return res.body;
  }

  async function expectConsistent(accountId: string): Promise<void> {
    const m = await money(t, accountId);
    expect(m.balance).toBe(m.ledger);
  }

  async function reporter() {
    const { OverageReporter } = await import('../../src/billing/stripe/overage.reporter.js');
    return t.app.get(OverageReporter);
  }

  it('subscribes to Power: the webhooks put the account on Power with 10,000 credits, applied once', async () => {
    const { token, accountId } = await signup(t);
    const { session, events } = await pay(token, { plan: 'power' });
    const created = fakes.stripe.checkoutSession(session)!;
    expect(created).toMatchObject({ mode: 'subscription', client_reference_id: accountId });
    expect(created.metadata).toMatchObject({ account_id: accountId, plan: 'power' });
    expect(created.customer).toMatch(/^cus_/);
    expect(events.map((e) => e.type)).toEqual([
      'checkout.session.completed',
      'customer.subscription.created',
      'invoice.paid',
    ]);
    // Each event 5 times in a row, then 5 times at once.
    for (let i = 0; i < 5; i++) {
      await deliverAll(events);
    }
    const answers = await Promise.all(
      events.flatMap((e) => Array.from({ length: 5 }, () => fakes.stripe.deliver(hook, e))),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));

    const view = await credits(token);
    expect(view).toMatchObject({
      plan: 'power',
      balance: '10000',
      included: '10000',
      overage: '0',
      overage_usd: '0',
      overage_price_usd_per_credit: '0.003',
      subscription: { status: 'active', cancel_at_period_end: false, plan_at_period_end: null },
    });
    const subscription = fakes.stripe.subscription(await subscriptionOf(accountId))!;
    expect(view.subscription.next_billing_date).toBe(
      new Date(subscription.items.data[0].current_period_end * 1000).toISOString(),
    );
    const entries = await ledger(t, accountId);
    expect(entries.map((e) => e.kind)).toEqual(['grant', 'reset']);
    expect(entries[1].reference).toBe(
      `reset:${subscription.id}:${subscription.items.data[0].current_period_start}`,
    );
    await expectConsistent(accountId);
    const [{ count }] = await t.db.query(
      `SELECT count(*)::int AS count FROM stripe_events WHERE id = ANY($1)`,
      [events.map((e) => e.id)],
    );
    expect(count).toBe(3);

    // Already on Power: 409. Unknown plan or pack: 400 naming the field.
    expect((await call(t, 'POST', '/v1/billing/checkout', { plan: 'power' }, token)).status).toBe(409);
    const gold = await call(t, 'POST', '/v1/billing/checkout', { plan: 'gold' }, token);
    expect(gold.status).toBe(400);
    expect(gold.body.error.param).toBe('plan');
    const odd = await call(t, 'POST', '/v1/billing/checkout', { pack: 7 }, token);
    expect(odd.status).toBe(400);
    expect(odd.body.error.param).toBe('pack');
  });

  it.runIf(process.env.DATABASE_URL)(
    'applies an event once when it reaches two instances at the same time',
    async () => {
      const other = await startApp(gatewayEnv(fakes, { KEY_CACHE_TTL_MS: '0' }), {
        shareDatabaseWith: t,
        clock,
      });
      try {
        const { token, accountId } = await signup(t);
        const { events } = await pay(token, { plan: 'pro' });
        const answers = await Promise.all(
          events.flatMap((e) => [
            ...Array.from({ length: 5 }, () => fakes.stripe.deliver(hook, e)),
            ...Array.from({ length: 5 }, () => fakes.stripe.deliver(`${other.url}/webhooks/stripe`, e)),
          ]),
        );
        expect(answers.every((a) => a.status === 200)).toBe(true);
        expect((await credits(token)).plan).toBe('pro');
        expect((await money(t, accountId)).balance).toBe(30_000n * MICRO);
        expect((await ledger(t, accountId)).map((e) => e.kind)).toEqual(['grant', 'reset']);
        await expectConsistent(accountId);
      } finally {
        await other.close();
      }
    },
  );

  it('refuses missing, bad and stale signatures and a re-serialised body with 400, changing nothing', async () => {
    const { token, accountId } = await signup(t);
    const { events } = await pay(token, { pack: 1000 });
    const [completed] = events;
    const payload = stripeEventPayload(completed);
    const post = (body: string, signature?: string) =>
      fetch(hook, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          ...(signature === undefined ? {} : { 'stripe-signature': signature }),
        },
        body,
      });
    const now = Math.floor(clock.now() / 1000);
    const refusals = [
      await post(payload),
      await post(payload, fakes.stripe.sign(payload, 'whsec_not_the_secret')),
      await post(payload, fakes.stripe.sign(payload, undefined, now - 301)),
      await post(JSON.stringify(completed), fakes.stripe.sign(payload)),
      await post(payload, 't=1,v1=deadbeef'),
    ];
    for (const res of refusals) {
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { type: string } };
      expect(body.error.type).toBe('invalid_request_error');
    }
    expect((await money(t, accountId)).balance).toBe(500n * MICRO);
    // Signed by the secret at the right time: applied (once).
    await deliverAll([completed, completed]);
    const after = await money(t, accountId);
    expect(after.balance).toBe(1_500n * MICRO);
    expect((await ledger(t, accountId)).filter((e) => e.kind === 'purchase')).toHaveLength(1);
    expect((await credits(token)).purchased).toBe('1000');
    await expectConsistent(accountId);
  });

  it('acknowledges event types it does not handle', async () => {
    const { token } = await signup(t);
    const res = await call(t, 'POST', '/v1/billing/checkout', { plan: 'pro' }, token);
    const [expired] = fakes.stripe.expireCheckout(res.body.id);
    await deliverAll([expired]);
  });

  it('credits a pack paid by a delayed method when the money arrives, once, and never when it fails', async () => {
    const { token, accountId } = await signup(t);
    const checkout = async () => {
      const res = await call(t, 'POST', '/v1/billing/checkout', { pack: 1000 }, token);
      expect(res.status).toBe(200);
      return res.body.id as string;
    };
    const arriving = await checkout();
    await deliverAll(fakes.stripe.completeCheckout(arriving, { asyncPayment: true }));
    expect((await money(t, accountId)).balance).toBe(500n * MICRO); // completed, not paid yet
    const succeeded = fakes.stripe.settleAsyncPayment(arriving);
    expect(succeeded.map((e) => e.type)).toEqual(['checkout.session.async_payment_succeeded']);
    await deliverAll([...succeeded, ...succeeded]);
    expect((await money(t, accountId)).balance).toBe(1_500n * MICRO);

    const bounced = await checkout();
    await deliverAll(fakes.stripe.completeCheckout(bounced, { asyncPayment: true }));
    await deliverAll(fakes.stripe.settleAsyncPayment(bounced, false));
    expect((await money(t, accountId)).balance).toBe(1_500n * MICRO);
    expect((await ledger(t, accountId)).filter((e) => e.kind === 'purchase')).toHaveLength(1);
    expect((await credits(token)).purchased).toBe('1000');
    await expectConsistent(accountId);
  });

  it('keeps pack credits across period resets; the allocation does not roll over', async () => {
    const { token, accountId } = await signup(t);
    await deliverAll((await pay(token, { pack: 1000 })).events);
    expect((await money(t, accountId)).balance).toBe(1_500n * MICRO);
    await deliverAll((await pay(token, { plan: 'power' })).events);
    // Unused Free allocation is gone, the pack stays.
    expect((await money(t, accountId)).balance).toBe(11_000n * MICRO);
    const { key } = await createKey(t, token, 'live');
    expect((await call(t, 'POST', '/v1/chat/completions', HALF_CREDIT, key)).status).toBe(200);
    expect((await credits(token)).purchased).toBe('1000'); // the allocation is spent first
    const subscription = await subscriptionOf(accountId);
    clock.set(fakes.stripe.subscription(subscription)!.items.data[0].current_period_end * 1000 + 1000);
    const renewal = fakes.stripe.advancePeriod(subscription);
    await deliverAll(renewal);
    await deliverAll(renewal);
    expect((await money(t, accountId)).balance).toBe(11_000n * MICRO);
    const resets = (await ledger(t, accountId)).filter((e) => e.kind === 'reset');
    expect(resets).toHaveLength(2);
    const view = await credits(token);
    expect(view).toMatchObject({ plan: 'power', balance: '11000', purchased: '1000', used: '0' });
    await expectConsistent(accountId);
  });

  it('reports overage to the meter in whole credits, exactly once per credit, despite faults and a crash', async () => {
    const { token, accountId } = await signup(t);
    await deliverAll((await pay(token, { plan: 'power' })).events);
    const customer = fakes.stripe.subscription(await subscriptionOf(accountId))!.customer as string;
    const { key } = await createKey(t, token, 'live');
    await setBalance(t, accountId, 300_000n); // 0.3 credits of the allocation left
    const chat = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const res = await call(t, 'POST', '/v1/chat/completions', HALF_CREDIT, key);
        expect(res.status).toBe(200);
      }
    };
    const mine = () => fakes.stripe.meterEvents.filter((e) => e.payload.stripe_customer_id === customer);
    const r = await reporter();

    await chat(5); // 0.3 − 2.5 = −2.2: 2.2 credits of overage
    await r.tick();
    expect(mine().map((e) => e.payload.value)).toEqual(['2']); // the 0.2 waits
    expect(mine()[0].event_name).toBe('overage_credits');
    await r.tick();
    expect(mine()).toHaveLength(1);

    // Stripe fails (beyond the SDK's own retries): kept, retried after the backoff, sent once.
    await chat(2); // −3.2
    fakes.stripe.addFault({ kind: 'status', status: 500 }, { path: '/v1/billing/meter_events', times: 3 });
    await r.tick();
    expect(mine()).toHaveLength(1);
    clock.advance(11_000);
    await r.tick();
    expect(mine().map((e) => e.payload.value)).toEqual(['2', '1']);

    // A lost answer: Stripe has it, the SDK's retry is recognised.
    await chat(2); // −4.2
    fakes.stripe.addFault({ kind: 'lost' }, { path: '/v1/billing/meter_events' });
    await r.tick();
    expect(mine().map((e) => e.payload.value)).toEqual(['2', '1', '1']);

    // The reporter stops between sending and marking sent: the resend carries the same identifier.
    await chat(2); // −5.2
    const { OutboxRepository } = await import('../../src/billing/stripe/outbox.repository.js');
    const outbox = t.app.get(OutboxRepository);
    const markSent = outbox.markSent.bind(outbox);
    outbox.markSent = () => Promise.reject(new Error('instance stopped'));
    try {
      await r.tick();
    } finally {
      outbox.markSent = markSent;
    }
    expect(mine()).toHaveLength(4);
    clock.advance(11_000);
    await r.tick();
    const [{ unsent }] = await t.db.query(
      `SELECT count(*)::int AS unsent FROM meter_outbox WHERE account_id = $1 AND sent_at IS NULL`,
      [accountId],
    );
    expect(unsent).toBe(0);

    // The renewal reports the period's last fraction, rounded up; the allocation starts again.
    const subscription = await subscriptionOf(accountId);
    clock.set(fakes.stripe.subscription(subscription)!.items.data[0].current_period_end * 1000 + 1000);
    await deliverAll(fakes.stripe.advancePeriod(subscription));
    await r.tick();
    const identifiers = mine().map((e) => e.identifier);
    expect(new Set(identifiers).size).toBe(identifiers.length);
    const total = mine().reduce((sum, e) => sum + Number(e.payload.value), 0);
    expect(total).toBe(6); // 5.2 credits of overage, the last report rounded up
    expect(fakes.stripe.meterEventErrors).toEqual([]);
    expect(fakes.stripe.meterUsage(customer, { eventName: 'overage_credits' })).toBe(6);
    expect((await money(t, accountId)).balance).toBe(10_000n * MICRO);
    const view = await credits(token);
    expect(view).toMatchObject({ plan: 'power', overage: '0', balance: '10000' });
    await expectConsistent(accountId);
  });

  it('shows the overage so far in credits and dollars', async () => {
    const { token, accountId } = await signup(t);
    await deliverAll((await pay(token, { plan: 'power' })).events);
    await setBalance(t, accountId, -2_500_000n);
    const view = await credits(token);
    expect(view).toMatchObject({
      overage: '2.5',
      overage_usd: '0.0075',
      spend_order: ['allocation', 'purchased', 'overage'],
    });
  });

  it('a failed renewal payment: calls go on for the grace period, then 402, and back once paid', async () => {
    const { token, accountId } = await signup(t);
    await deliverAll((await pay(token, { plan: 'power' })).events);
    const { key } = await createKey(t, token, 'live');
    const subscription = await subscriptionOf(accountId);
    clock.set(fakes.stripe.subscription(subscription)!.items.data[0].current_period_end * 1000 + 1000);
    await deliverAll(fakes.stripe.failPayment(subscription));
    const view = await credits(token);
    expect(view.subscription.status).toBe('past_due');
    expect(view.subscription.payment_overdue_since).not.toBeNull();
    expect((await call(t, 'POST', '/v1/chat/completions', HALF_CREDIT, key)).status).toBe(200);

    clock.advance(7 * DAY + 1000);
    const refused = await call(t, 'POST', '/v1/chat/completions', HALF_CREDIT, key);
    expect(refused.status).toBe(402);
    expect(refused.body.error.code).toBe('payment_overdue');
    expect(refused.body.error.message).toMatch(/payment method/);

    await deliverAll(fakes.stripe.recoverPayment(subscription));
    expect((await call(t, 'POST', '/v1/chat/completions', HALF_CREDIT, key)).status).toBe(200);
    const after = await credits(token);
    expect(after.subscription).toMatchObject({ status: 'active', payment_overdue_since: null });
    // The paid renewal started the new period: a fresh allocation (less the call just made).
    expect((await money(t, accountId)).balance).toBe(10_000n * MICRO - 500_000n);
    await expectConsistent(accountId);
  });

  it('a cancelled subscription keeps Power to the end of the period, then the account is on Free', async () => {
    const { token, accountId } = await signup(t);
    await deliverAll((await pay(token, { plan: 'power' })).events);
    const subscription = await subscriptionOf(accountId);
    await deliverAll(fakes.stripe.cancelAtPeriodEnd(subscription));
    expect((await credits(token)).subscription).toMatchObject({
      status: 'active',
      cancel_at_period_end: true,
    });
    expect((await credits(token)).plan).toBe('power');

    const end = fakes.stripe.subscription(subscription)!.items.data[0].current_period_end * 1000;
    clock.set(end + 1000);
    const ended = fakes.stripe.advancePeriod(subscription);
    expect(ended.map((e) => e.type)).toEqual(['customer.subscription.deleted']);
    await deliverAll(ended);
    const { MeteringService } = await import('../../src/billing/metering.service.js');
    await t.app.get(MeteringService).resetPeriods();
    const view = await credits(token);
    expect(view).toMatchObject({ plan: 'free', balance: '500', subscription: { status: 'canceled' } });
    expect(view.period.start).toBe(new Date(end).toISOString());
    await expectConsistent(accountId);
  });

  it('a subscription deleted mid-period leaves the account on Power until the period ends', async () => {
    const { token, accountId } = await signup(t);
    await deliverAll((await pay(token, { plan: 'pro' })).events);
    const subscription = await subscriptionOf(accountId);
    await deliverAll(fakes.stripe.deleteSubscription(subscription));
    const { MeteringService } = await import('../../src/billing/metering.service.js');
    await t.app.get(MeteringService).resetPeriods();
    expect(await credits(token)).toMatchObject({ plan: 'pro', subscription: { plan_at_period_end: 'free' } });
    clock.advance(32 * DAY);
    await t.app.get(MeteringService).resetPeriods();
    expect(await credits(token)).toMatchObject({ plan: 'free', balance: '500' });
    await expectConsistent(accountId);
  });

  it('an upgrade applies at once, a downgrade at the end of the period', async () => {
    const { token, accountId } = await signup(t);
    await deliverAll((await pay(token, { plan: 'power' })).events);
    const subscription = await subscriptionOf(accountId);
    const sdk = new Stripe(fakes.stripe.apiKey, { ...fakes.stripe.clientConfig, maxNetworkRetries: 0 });
    // What the Customer Portal does when the customer switches plans.
    const change = async (price: string) => {
      const current = fakes.stripe.subscription(subscription)!;
      const item = current.items.data.find((i) => i.price.recurring?.usage_type === 'licensed')!;
      const before = fakes.stripe.events.length;
      await sdk.subscriptions.update(subscription, { items: [{ id: item.id, price }] });
      await deliverAll(fakes.stripe.events.slice(before));
    };
    await change('price_pro');
    expect(await credits(token)).toMatchObject({ plan: 'pro', balance: '30000', included: '30000' });
    expect((await ledger(t, accountId)).map((e) => e.kind)).toEqual(['grant', 'reset', 'plan']);

    await change('price_power');
    expect(await credits(token)).toMatchObject({
      plan: 'pro',
      balance: '30000',
      subscription: { plan_at_period_end: 'power' },
    });
    clock.set(fakes.stripe.subscription(subscription)!.items.data[0].current_period_end * 1000 + 1000);
    await deliverAll(fakes.stripe.advancePeriod(subscription));
    expect(await credits(token)).toMatchObject({
      plan: 'power',
      balance: '10000',
      subscription: { plan_at_period_end: null },
    });
    await expectConsistent(accountId);
  });

  it('opens the Customer Portal for a customer', async () => {
    const { token } = await signup(t);
    expect((await call(t, 'POST', '/v1/billing/portal', undefined, token)).status).toBe(404);
    await deliverAll((await pay(token, { pack: 5000 })).events);
    const res = await call(t, 'POST', '/v1/billing/portal', undefined, token);
    expect(res.status).toBe(200);
    expect(res.body.url).toMatch(/^https:\/\/billing\.stripe\.test\//);
  });
});

describe('billing without Stripe', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers the billing routes with 503 "billing is not configured"; the rest works as before', async () => {
    const { token } = await signup(t);
    for (const [path, body] of [
      ['/v1/billing/checkout', { plan: 'power' }],
      ['/v1/billing/portal', undefined],
      ['/webhooks/stripe', { id: 'evt_1' }],
    ] as const) {
      const res = await call(t, 'POST', path, body, token);
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({ code: 'billing_not_configured' });
      expect(res.body.error.message).toMatch(/not configured/);
    }
    expect((await call(t, 'GET', '/v1/credits', undefined, token)).body).toMatchObject({
      plan: 'free',
      balance: '500',
    });
  });
});
