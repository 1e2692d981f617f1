import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { startFakes, type Fakes } from '../fakes/index.js';
import type { StripeEventObject } from '../fakes/stripe.js';
import { call, signup, startApp, type TestApp } from '../support/app.js';
import { gatewayEnv } from '../support/gateway.js';

/**
 * Support and Stripe: an account that pays through a subscription is found by its Stripe customer id, its plan is
 * changed through Stripe (the plan follows from Stripe's webhook), and deleting it cancels the subscription.
 */
describe('support staff and a paying account', () => {
  const clock = new ManualClock(Date.now());
  let fakes: Fakes;
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    fakes = await startFakes(0, { stripe: { clock } });
    t = await startApp(gatewayEnv(fakes, { KEY_CACHE_TTL_MS: '0' }), { clock });
    const staff = await signup(t);
    await t.db.query(`UPDATE accounts SET role = 'admin' WHERE id = $1`, [staff.accountId]);
    admin = staff.token;
  });

  afterAll(async () => {
    await t?.close();
    await fakes?.close();
  });

  async function deliver(events: StripeEventObject[]): Promise<void> {
    for (const event of events) {
      const res = await fakes.stripe.deliver(`${t.url}/webhooks/stripe`, event);
      expect(res.status).toBe(200);
    }
  }

  /** A customer on Power through Checkout; returns its ids. */
  async function payingCustomer() {
    const customer = await signup(t);
    const checkout = await call(t, 'POST', '/v1/billing/checkout', { plan: 'power' }, customer.token);
    expect(checkout.status).toBe(200);
    await deliver(fakes.stripe.completeCheckout(checkout.body.id));
    const [row] = await t.db.query(
      `SELECT plan, stripe_customer_id, stripe_subscription_id FROM accounts WHERE id = $1`,
      [customer.accountId],
    );
    expect(row.plan).toBe('power');
    return {
      ...customer,
      stripeCustomer: row.stripe_customer_id as string,
      subscription: row.stripe_subscription_id as string,
    };
  }

  it('finds the account by its Stripe customer id and changes its plan through Stripe', async () => {
    const customer = await payingCustomer();
    const found = await call(t, 'GET', `/admin/accounts?q=${customer.stripeCustomer}`, undefined, admin);
    expect(found.status).toBe(200);
    expect(found.body.data.map((a: { id: string }) => a.id)).toEqual([customer.accountId]);
    const detail = await call(t, 'GET', `/admin/accounts/${customer.accountId}`, undefined, admin);
    expect(detail.body.subscription).toBe(true);

    const sent = fakes.stripe.events.length;
    const changed = await call(
      t,
      'POST',
      `/admin/accounts/${customer.accountId}/plan`,
      { plan: 'pro', reason: 'Ticket #7: upgrade by phone' },
      admin,
    );
    expect(changed.status).toBe(200);
    // Stripe's subscription now bills Pro; the plan follows when its webhook arrives.
    const subscription = fakes.stripe.subscription(customer.subscription)!;
    expect(subscription.items.data.map((i) => i.price.id)).toContain(
      (t.config.stripe!.prices as { pro: string }).pro,
    );
    await deliver(fakes.stripe.events.slice(sent));
    const credits = await call(t, 'GET', '/v1/credits', undefined, customer.token);
    expect(credits.body.plan).toBe('pro');
  });

  it('deleting a paying account cancels its subscription at Stripe', async () => {
    const customer = await payingCustomer();
    const deleted = await call(
      t,
      'POST',
      `/admin/accounts/${customer.accountId}/deletion`,
      { reason: 'Ticket #8: the customer asked' },
      admin,
    );
    expect(deleted.status).toBe(200);
    expect(fakes.stripe.subscription(customer.subscription)!.status).toBe('canceled');
  });
});
