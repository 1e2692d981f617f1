import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakes } from './index.js';
import {
  createStripeFake,
  parseForm,
  STRIPE_API_VERSION,
  stripeEventPayload,
  stripeSignatureHeader,
  type FakeStripe,
  type StripeEventObject,
} from './stripe.js';

/** A clock the tests move (ms); starts at the real time so webhook timestamps verify against the SDK's clock. */
const clock = { current: Date.now(), now: () => clock.current };

let fake: FakeStripe;
let stripe: Stripe;

beforeAll(async () => {
  fake = await createStripeFake({ clock }).start();
  stripe = new Stripe(fake.apiKey, { ...fake.clientConfig, maxNetworkRetries: 0 });
});

afterAll(async () => {
  await fake.close();
});

beforeEach(() => {
  clock.current = Date.now();
  fake.reset();
});

/** The error the SDK threw for a refused call. */
async function refusal(call: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await call;
  } catch (error) {
    expect(error).toBeInstanceOf(Stripe.errors.StripeError);
    return error as Stripe.errors.StripeError;
  }
  throw new Error('expected the call to be refused');
}

async function subscriptionCheckout(price = 'price_power') {
  const customer = await stripe.customers.create({
    email: 'ada@example.com',
    metadata: { account_id: 'acc_1' },
  });
  const session = await stripe.checkout.sessions.create({
    mode: 'subscription',
    customer: customer.id,
    line_items: [{ price, quantity: 1 }],
    client_reference_id: 'acc_1',
    metadata: { account_id: 'acc_1', plan: 'power' },
    subscription_data: { metadata: { account_id: 'acc_1' } },
    success_url: 'http://localhost:3000/billing/success?session_id={CHECKOUT_SESSION_ID}',
    cancel_url: 'http://localhost:3000/billing',
  });
  return { customer, session };
}

/** Completes a subscription checkout and returns the subscription's id. */
async function subscribed(price = 'price_power'): Promise<{ customer: string; subscription: string }> {
  const { customer, session } = await subscriptionCheckout(price);
  fake.completeCheckout(session.id);
  const done = await stripe.checkout.sessions.retrieve(session.id);
  return { customer: customer.id, subscription: done.subscription as string };
}

describe('the wire, as the SDK speaks it', () => {
  it('parses form bodies with raw or percent-encoded brackets', () => {
    expect(
      parseForm('line_items[0][price]=price_power&line_items[0][quantity]=1&metadata%5Bk%5D=a+b'),
    ).toEqual({
      line_items: { '0': { price: 'price_power', quantity: '1' } },
      metadata: { k: 'a b' },
    });
    expect(parseForm('expand[]=customer&expand[]=subscription')).toEqual({
      expand: { '0': 'customer', '1': 'subscription' },
    });
  });

  it('pins the version the SDK pins, and receives what the SDK sends', async () => {
    expect(STRIPE_API_VERSION).toBe(Stripe.API_VERSION);
    const customer = await stripe.customers.create({
      email: 'a@example.com',
      metadata: { account_id: 'acc_9' },
    });
    const request = fake.requests.at(-1)!;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/v1/customers');
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
    expect(request.headers['stripe-version']).toBe(Stripe.API_VERSION);
    expect(request.headers['idempotency-key']).toMatch(/^stripe-node-retry-/);
    expect(request.params).toEqual({ email: 'a@example.com', metadata: { account_id: 'acc_9' } });
    expect(customer.lastResponse.requestId).toMatch(/^req_/);
    expect(customer.lastResponse.apiVersion).toBe(Stripe.API_VERSION);
  });

  it('refuses a wrong key with a 401 that masks it, and a missing key', async () => {
    const wrong = new Stripe('sk_test_wrongwrongwrong1234', { ...fake.clientConfig, maxNetworkRetries: 0 });
    const error = await refusal(wrong.customers.create({}));
    expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(error.statusCode).toBe(401);
    expect(error.type).toBe('StripeAuthenticationError');
    expect(error.message).toBe('Invalid API Key provided: sk_test_***************1234');
    const anonymous = await fetch(`${fake.origin}/v1/customers`, { method: 'POST' });
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { message: string } }).error.message).toMatch(
      /^You did not provide an API key/,
    );
  });

  it('answers 404 resource_missing for an unknown object and 404 for an unknown URL', async () => {
    const error = await refusal(stripe.customers.retrieve('cus_nope'));
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error.statusCode).toBe(404);
    expect(error.code).toBe('resource_missing');
    expect(error.param).toBe('id');
    expect(error.message).toBe("No such customer: 'cus_nope'");
    expect(error.requestId).toMatch(/^req_/);
    const url = await refusal(stripe.rawRequest('GET', '/v1/nothing_here'));
    expect(url.statusCode).toBe(404);
    expect(url.message).toMatch(/^Unrecognized request URL \(GET: \/v1\/nothing_here\)/);
  });

  it('refuses unknown and missing parameters with 400 invalid_request_error', async () => {
    const unknown = await refusal(
      stripe.customers.create({ nickname: 'x' } as unknown as Stripe.CustomerCreateParams),
    );
    expect(unknown.statusCode).toBe(400);
    expect(unknown.rawType).toBe('invalid_request_error');
    expect(unknown.code).toBe('parameter_unknown');
    expect(unknown.param).toBe('nickname');
    expect(unknown.message).toBe('Received unknown parameter: nickname');
    const missing = await refusal(
      stripe.billingPortal.sessions.create({} as Stripe.BillingPortal.SessionCreateParams),
    );
    expect(missing.statusCode).toBe(400);
    expect(missing.code).toBe('parameter_missing');
    expect(missing.param).toBe('customer');
    expect(missing.message).toBe('Missing required param: customer.');
  });

  it('refuses another Stripe-Version than the one it renders', async () => {
    const old = new Stripe(fake.apiKey, { ...fake.clientConfig, apiVersion: '2024-06-20' as never });
    const error = await refusal(old.prices.retrieve('price_power'));
    expect(error.statusCode).toBe(400);
    expect(error.message).toContain(STRIPE_API_VERSION);
  });

  it('replays a POST for its Idempotency-Key and refuses the key with other parameters', async () => {
    const first = await stripe.customers.create({ email: 'same@example.com' }, { idempotencyKey: 'key-1' });
    const again = await stripe.customers.create({ email: 'same@example.com' }, { idempotencyKey: 'key-1' });
    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    const other = await refusal(
      stripe.customers.create({ email: 'other@example.com' }, { idempotencyKey: 'key-1' }),
    );
    expect(other).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(other.statusCode).toBe(400);
  });
});

describe('customers, prices, checkout and the portal', () => {
  it('creates and retrieves a customer', async () => {
    const created = await stripe.customers.create({
      email: 'ada@example.com',
      name: 'Ada',
      metadata: { a: '1' },
    });
    expect(created.id).toMatch(/^cus_[A-Za-z0-9]{14}$/);
    expect(created).toMatchObject({
      object: 'customer',
      email: 'ada@example.com',
      name: 'Ada',
      livemode: false,
    });
    expect(created.metadata).toEqual({ a: '1' });
    expect(Math.abs(created.created - Date.now() / 1000)).toBeLessThan(5);
    const retrieved = await stripe.customers.retrieve(created.id);
    expect({ ...retrieved }).toEqual({ ...created });
  });

  it('serves the seeded prices', async () => {
    const power = await stripe.prices.retrieve('price_power', { expand: ['product'] });
    expect(power).toMatchObject({ object: 'price', unit_amount: 2499, currency: 'usd', type: 'recurring' });
    expect(power.recurring).toMatchObject({ interval: 'month', interval_count: 1, usage_type: 'licensed' });
    expect((power.product as Stripe.Product).name).toBe('Conflux Power');
    const pack = await stripe.prices.retrieve('price_pack_5000');
    expect(pack).toMatchObject({ type: 'one_time', unit_amount: 5000, recurring: null });
    const byKey = await stripe.prices.list({ lookup_keys: ['pro_monthly', 'pack_1000'] });
    expect(byKey.data.map((p) => p.id).sort()).toEqual(['price_pack_1000', 'price_pro']);
    expect(byKey).toMatchObject({ object: 'list', has_more: false, url: '/v1/prices' });
  });

  it('creates a subscription checkout session', async () => {
    const { customer, session } = await subscriptionCheckout();
    expect(session.id).toMatch(/^cs_test_[A-Za-z0-9]{58}$/);
    expect(session).toMatchObject({
      object: 'checkout.session',
      mode: 'subscription',
      status: 'open',
      payment_status: 'unpaid',
      customer: customer.id,
      client_reference_id: 'acc_1',
      metadata: { account_id: 'acc_1', plan: 'power' },
      amount_total: 2499,
      currency: 'usd',
      subscription: null,
      url: `https://checkout.stripe.test/c/pay/${session.id}`,
      success_url: 'http://localhost:3000/billing/success?session_id={CHECKOUT_SESSION_ID}',
    });
    expect(session.expires_at - session.created).toBe(24 * 3600);
    const retrieved = await stripe.checkout.sessions.retrieve(session.id, { expand: ['line_items'] });
    expect(retrieved.line_items?.data).toHaveLength(1);
    expect(retrieved.line_items?.data[0]).toMatchObject({ object: 'item', quantity: 1, amount_total: 2499 });
    expect(retrieved.line_items?.data[0].price?.id).toBe('price_power');
    const items = await stripe.checkout.sessions.listLineItems(session.id);
    expect(items.data[0].price?.id).toBe('price_power');
  });

  it('creates a payment checkout session for a credit pack', async () => {
    const customer = await stripe.customers.create({});
    const session = await stripe.checkout.sessions.create({
      mode: 'payment',
      customer: customer.id,
      line_items: [{ price: 'price_pack_1000', quantity: 2 }],
      metadata: { pack: '1000' },
      success_url: 'http://localhost:3000/ok',
      cancel_url: 'http://localhost:3000/ko',
    });
    expect(session).toMatchObject({ mode: 'payment', status: 'open', amount_total: 2000, invoice: null });
    const events = fake.completeCheckout(session.id);
    expect(events.map((e) => e.type)).toEqual(['checkout.session.completed']);
    const completed = events[0].data.object;
    expect(completed).toMatchObject({
      status: 'complete',
      payment_status: 'paid',
      url: null,
      subscription: null,
    });
    expect(completed.payment_intent).toMatch(/^pi_/);
  });

  it('refuses checkout sessions Stripe refuses', async () => {
    const recurring = await refusal(
      stripe.checkout.sessions.create({
        mode: 'payment',
        line_items: [{ price: 'price_power', quantity: 1 }],
      }),
    );
    expect(recurring.statusCode).toBe(400);
    expect(recurring.message).toMatch(/`payment` mode but passed a recurring price/);
    const oneTime = await refusal(
      stripe.checkout.sessions.create({
        mode: 'subscription',
        line_items: [{ price: 'price_pack_1000', quantity: 1 }],
      }),
    );
    expect(oneTime.message).toMatch(/at least one recurring price in `subscription` mode/);
    const noPrice = await refusal(
      stripe.checkout.sessions.create({
        mode: 'payment',
        line_items: [{ price: 'price_nope', quantity: 1 }],
      }),
    );
    expect(noPrice).toMatchObject({
      statusCode: 400,
      code: 'resource_missing',
      param: 'line_items[0][price]',
    });
    expect(noPrice.message).toBe("No such price: 'price_nope'");
    const noCustomer = await refusal(
      stripe.checkout.sessions.create({
        mode: 'payment',
        customer: 'cus_nope',
        line_items: [{ price: 'price_pack_1000', quantity: 1 }],
      }),
    );
    expect(noCustomer).toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'customer' });
    const unknown = await refusal(
      stripe.checkout.sessions.create({
        mode: 'payment',
        line_items: [{ price: 'price_pack_1000', quantity: 1, tax_rates: ['txr_1'] }],
      }),
    );
    expect(unknown).toMatchObject({ code: 'parameter_unknown', param: 'line_items[0][tax_rates]' });
  });

  it('creates a billing portal session', async () => {
    const customer = await stripe.customers.create({});
    const portal = await stripe.billingPortal.sessions.create({
      customer: customer.id,
      return_url: 'http://localhost:3000/billing',
    });
    expect(portal.id).toMatch(/^bps_/);
    expect(portal).toMatchObject({
      object: 'billing_portal.session',
      customer: customer.id,
      return_url: 'http://localhost:3000/billing',
      livemode: false,
    });
    expect(portal.url).toMatch(/^https:\/\/billing\.stripe\.test\/p\/session\/test_/);
    expect(portal.configuration).toMatch(/^bpc_/);
    const unknown = await refusal(stripe.billingPortal.sessions.create({ customer: 'cus_nope' }));
    expect(unknown).toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'customer' });
  });
});

describe('subscriptions', () => {
  it('completeCheckout starts the subscription now, with its first invoice paid', async () => {
    clock.current = Date.UTC(2026, 0, 31, 10, 0, 0); // a month's last day: the next period ends on Feb 28
    const { customer, session } = await subscriptionCheckout();
    const events = fake.completeCheckout(session.id);
    expect(events.map((e) => e.type)).toEqual([
      'checkout.session.completed',
      'customer.subscription.created',
      'invoice.paid',
    ]);
    for (const event of events) {
      expect(event.id).toMatch(/^evt_/);
      expect(event).toMatchObject({ object: 'event', api_version: STRIPE_API_VERSION, livemode: false });
    }
    expect(fake.events.map((e) => e.id)).toEqual(events.map((e) => e.id));
    const completed = events[0].data.object;
    expect(completed).toMatchObject({ status: 'complete', payment_status: 'paid', customer: customer.id });

    const start = Date.UTC(2026, 0, 31, 10, 0, 0) / 1000;
    const sub = await stripe.subscriptions.retrieve(completed.subscription as string);
    expect(sub.id).toMatch(/^sub_/);
    expect(sub).toMatchObject({
      object: 'subscription',
      status: 'active',
      customer: customer.id,
      cancel_at_period_end: false,
      metadata: { account_id: 'acc_1' },
      start_date: start,
      billing_cycle_anchor: start,
    });
    expect(sub).not.toHaveProperty('current_period_end');
    expect(sub.items.data).toHaveLength(1);
    const item = sub.items.data[0];
    expect(item.id).toMatch(/^si_/);
    expect(item.price.id).toBe('price_power');
    expect(item.current_period_start).toBe(start);
    expect(item.current_period_end).toBe(Date.UTC(2026, 1, 28, 10, 0, 0) / 1000);

    const invoice = await stripe.invoices.retrieve(sub.latest_invoice as string);
    expect(invoice.id).toMatch(/^in_/);
    expect(invoice).toMatchObject({
      status: 'paid',
      amount_paid: 2499,
      billing_reason: 'subscription_create',
      customer: customer.id,
    });
    expect(invoice.parent?.subscription_details?.subscription).toBe(sub.id);
    expect(invoice.lines.data[0].pricing?.price_details?.price).toBe('price_power');
    expect(events[2].data.object.id).toBe(invoice.id);

    const expanded = await stripe.checkout.sessions.retrieve(session.id, {
      expand: ['subscription', 'customer'],
    });
    expect((expanded.subscription as Stripe.Subscription).status).toBe('active');
    expect((expanded.customer as Stripe.Customer).email).toBe('ada@example.com');
  });

  it('advancePeriod renews and bills the metered usage of the period that ended', async () => {
    clock.current = Date.UTC(2026, 0, 31, 10, 0, 0);
    const customer = await stripe.customers.create({});
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: customer.id,
      line_items: [{ price: 'price_power', quantity: 1 }, { price: 'price_power_overage' }],
    });
    fake.completeCheckout(session.id);
    const id = fake.checkoutSession(session.id)!.subscription as string;
    clock.current = Date.UTC(2026, 1, 10);
    await stripe.billing.meterEvents.create({
      event_name: 'overage_credits',
      payload: { stripe_customer_id: customer.id, value: '1500' },
    });
    clock.current = Date.UTC(2026, 1, 28, 10, 0, 0);
    const events = fake.advancePeriod(id);
    expect(events.map((e) => e.type)).toEqual(['invoice.paid', 'customer.subscription.updated']);
    const updated = events[1];
    expect(updated.data.previous_attributes).toHaveProperty('items');
    expect(updated.data.previous_attributes).toHaveProperty('latest_invoice');
    const sub = await stripe.subscriptions.retrieve(id);
    expect(sub.items.data.map((i) => [i.current_period_start, i.current_period_end])).toEqual([
      [Date.UTC(2026, 1, 28, 10) / 1000, Date.UTC(2026, 2, 31, 10) / 1000],
      [Date.UTC(2026, 1, 28, 10) / 1000, Date.UTC(2026, 2, 31, 10) / 1000],
    ]);
    const invoice = events[0].data.object as unknown as Stripe.Invoice;
    expect(invoice.billing_reason).toBe('subscription_cycle');
    // $24.99 for the new period + 1,500 credits × $0.003 for the period that ended.
    expect(invoice.lines.data.map((l) => [l.quantity, l.amount])).toEqual([
      [1, 2499],
      [1500, 450],
    ]);
    expect(invoice.amount_paid).toBe(2949);
  });

  it('failPayment leaves the renewal open and the subscription past_due; recoverPayment pays it', async () => {
    const { subscription } = await subscribed();
    const failed = fake.failPayment(subscription);
    expect(failed.map((e) => e.type)).toEqual(['invoice.payment_failed', 'customer.subscription.updated']);
    expect(failed[0].data.object).toMatchObject({
      status: 'open',
      attempted: true,
      attempt_count: 1,
      amount_paid: 0,
    });
    expect(failed[1].data.previous_attributes).toMatchObject({ status: 'active' });
    expect((await stripe.subscriptions.retrieve(subscription)).status).toBe('past_due');
    const recovered = fake.recoverPayment(subscription);
    expect(recovered.map((e) => e.type)).toEqual(['invoice.paid', 'customer.subscription.updated']);
    expect((await stripe.subscriptions.retrieve(subscription)).status).toBe('active');
  });

  it('cancels at period end (API or portal), and ends at the next renewal', async () => {
    const { subscription } = await subscribed();
    const updated = await stripe.subscriptions.update(subscription, { cancel_at_period_end: true });
    const end = updated.items.data[0].current_period_end;
    expect(updated).toMatchObject({ cancel_at_period_end: true, cancel_at: end, status: 'active' });
    expect(updated.cancellation_details?.reason).toBe('cancellation_requested');
    const apiEvent = fake.events.at(-1)!;
    expect(apiEvent.type).toBe('customer.subscription.updated');
    expect(apiEvent.data.previous_attributes).toMatchObject({ cancel_at_period_end: false, cancel_at: null });
    expect(apiEvent.request?.id).toBe(updated.lastResponse.requestId);

    const resumed = await stripe.subscriptions.update(subscription, { cancel_at_period_end: false });
    expect(resumed).toMatchObject({ cancel_at_period_end: false, cancel_at: null, canceled_at: null });
    const portal = fake.cancelAtPeriodEnd(subscription);
    expect(portal.map((e) => e.type)).toEqual(['customer.subscription.updated']);
    expect(portal[0].request).toEqual({ id: null, idempotency_key: null });

    const ended = fake.advancePeriod(subscription);
    expect(ended.map((e) => e.type)).toEqual(['customer.subscription.deleted']);
    expect(ended[0].data.object).toMatchObject({ status: 'canceled', ended_at: end });
  });

  it('switches the price of an item, and cancels at once with DELETE', async () => {
    const { subscription } = await subscribed();
    const before = await stripe.subscriptions.retrieve(subscription);
    const item = before.items.data[0];
    const upgraded = await stripe.subscriptions.update(subscription, {
      items: [{ id: item.id, price: 'price_pro' }],
      proration_behavior: 'none',
    });
    expect(upgraded.items.data).toHaveLength(1);
    expect(upgraded.items.data[0]).toMatchObject({
      id: item.id,
      current_period_end: item.current_period_end,
    });
    expect(upgraded.items.data[0].price.id).toBe('price_pro');
    const unknownItem = await refusal(
      stripe.subscriptions.update(subscription, { items: [{ id: 'si_nope', price: 'price_pro' }] }),
    );
    expect(unknownItem).toMatchObject({
      statusCode: 400,
      code: 'resource_missing',
      param: 'items[0][id]',
      message: "No such subscription item: 'si_nope'",
    });

    const canceled = await stripe.subscriptions.cancel(subscription);
    expect(canceled).toMatchObject({ status: 'canceled' });
    expect(canceled.ended_at).not.toBeNull();
    expect(fake.events.at(-1)!.type).toBe('customer.subscription.deleted');
    const afterCancel = await refusal(
      stripe.subscriptions.update(subscription, { cancel_at_period_end: true }),
    );
    expect(afterCancel).toMatchObject({
      statusCode: 400,
      message: 'A canceled subscription can only update its cancellation_details and metadata.',
    });
    const cancelAgain = await refusal(stripe.subscriptions.cancel(subscription));
    expect(cancelAgain).toMatchObject({ statusCode: 404, code: 'resource_missing' });
    const missing = await refusal(stripe.subscriptions.retrieve('sub_nope'));
    expect(missing).toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
      message: "No such subscription: 'sub_nope'",
    });
  });

  it('deleteSubscription ends it now', async () => {
    const { subscription, customer } = await subscribed();
    expect(fake.deleteSubscription(subscription).map((e) => e.type)).toEqual([
      'customer.subscription.deleted',
    ]);
    const listed = await stripe.subscriptions.list({ customer, status: 'all' });
    expect(listed.data.map((s) => [s.id, s.status])).toEqual([[subscription, 'canceled']]);
    expect((await stripe.subscriptions.list({ customer })).data).toEqual([]);
  });
});

describe('meter events', () => {
  it('records meter events and answers as Stripe does', async () => {
    const customer = await stripe.customers.create({});
    const event = await stripe.billing.meterEvents.create({
      event_name: 'overage_credits',
      payload: { stripe_customer_id: customer.id, value: '250' },
      identifier: 'usage-1',
      timestamp: Math.floor(clock.current / 1000) - 60,
    });
    expect(event).toMatchObject({
      object: 'billing.meter_event',
      event_name: 'overage_credits',
      identifier: 'usage-1',
      livemode: false,
      payload: { stripe_customer_id: customer.id, value: '250' },
      timestamp: Math.floor(clock.current / 1000) - 60,
    });
    const generated = await stripe.billing.meterEvents.create({
      event_name: 'overage_credits',
      payload: { stripe_customer_id: customer.id, value: '5' },
    });
    expect(generated.identifier).toMatch(/^[0-9a-f-]{36}$/);
    expect(fake.meterEvents.map((e) => [e.identifier, e.payload.value])).toEqual([
      ['usage-1', '250'],
      [generated.identifier, '5'],
    ]);
    expect(fake.meterUsage(customer.id)).toBe(255);
    expect(fake.meterEventErrors).toEqual([]);
  });

  it('refuses a repeated identifier within 24 hours with Stripe’s 400, and the SDK does not retry it', async () => {
    const client = new Stripe(fake.apiKey, { ...fake.clientConfig, maxNetworkRetries: 2 });
    const params = {
      event_name: 'overage_credits',
      payload: { stripe_customer_id: 'cus_x', value: '1' },
      identifier: 'acc_1:2026-01-31T10',
    };
    await client.billing.meterEvents.create(params);
    const before = fake.requests.length;
    const duplicate = await refusal(client.billing.meterEvents.create(params));
    expect(duplicate).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(duplicate.statusCode).toBe(400);
    expect(duplicate.rawType).toBe('invalid_request_error');
    expect(duplicate.code).toBeUndefined();
    expect(duplicate.message).toBe('An event already exists with identifier acc_1:2026-01-31T10.');
    expect(duplicate.headers?.['stripe-should-retry']).toBe('false');
    expect(fake.requests.length - before).toBe(1);
    expect(fake.meterEvents).toHaveLength(1);
    clock.current += 24 * 3600 * 1000 + 1000;
    await client.billing.meterEvents.create(params);
    expect(fake.meterEvents).toHaveLength(2);
  });

  it('reports what Stripe validates later instead of refusing it', async () => {
    await stripe.billing.meterEvents.create({
      event_name: 'overage_credits',
      payload: { stripe_customer_id: 'cus_unknown', value: '1' },
      identifier: 'a',
    });
    const customer = await stripe.customers.create({});
    await stripe.billing.meterEvents.create({
      event_name: 'overage_credits',
      payload: { stripe_customer_id: customer.id, value: '1.5' },
      identifier: 'b',
    });
    await stripe.billing.meterEvents.create({
      event_name: 'no_such_meter',
      payload: { stripe_customer_id: customer.id, value: '1' },
      identifier: 'c',
    });
    expect(fake.meterEventErrors.map((e) => [e.identifier, e.code])).toEqual([
      ['a', 'meter_event_customer_not_found'],
      ['b', 'meter_event_invalid_value'],
      ['c', 'no_meter'],
    ]);
    expect(fake.meterUsage(customer.id)).toBe(0);
    const missing = await refusal(
      stripe.billing.meterEvents.create({ payload: {} } as unknown as Stripe.Billing.MeterEventCreateParams),
    );
    expect(missing).toMatchObject({ statusCode: 400, code: 'parameter_missing', param: 'event_name' });
  });
});

describe('faults', () => {
  const usage = (identifier: string) => ({
    event_name: 'overage_credits',
    payload: { stripe_customer_id: 'cus_x', value: '1' },
    identifier,
  });

  it('fails the next N calls to a path with a 500 the SDK retries with the same key', async () => {
    fake.addFault({ kind: 'status', status: 500 }, { times: 2, path: '/v1/billing/meter_events' });
    // The SDK waits 0.5–1 s before each retry.
    const client = new Stripe(fake.apiKey, { ...fake.clientConfig, maxNetworkRetries: 2 });
    const event = await client.billing.meterEvents.create(usage('retried'));
    expect(event.identifier).toBe('retried');
    const calls = fake.requests.filter((r) => r.path === '/v1/billing/meter_events');
    expect(calls.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(new Set(calls.map((r) => r.headers['idempotency-key'])).size).toBe(1);
    expect(fake.meterEvents).toHaveLength(1);

    fake.addFault({ kind: 'status', status: 500 }, { path: '/v1/billing/meter_events' });
    const error = await refusal(stripe.billing.meterEvents.create(usage('failed')));
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error.statusCode).toBe(500);
  });

  it('hangs a call until the client gives up', async () => {
    fake.addFault({ kind: 'hang' }, { path: '/v1/billing/meter_events' });
    const client = new Stripe(fake.apiKey, { ...fake.clientConfig, maxNetworkRetries: 0, timeout: 300 });
    const error = await refusal(client.billing.meterEvents.create(usage('hung')));
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(fake.meterEvents).toHaveLength(0);
  });

  it('loses a response after doing the work: the retry with the same key is replayed, not counted twice', async () => {
    fake.addFault({ kind: 'lost' }, { path: '/v1/billing/meter_events' });
    const event = await stripe.billing.meterEvents.create(usage('lost-once'));
    expect(event.identifier).toBe('lost-once');
    expect(event.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(fake.requests.filter((r) => r.path === '/v1/billing/meter_events')).toHaveLength(2);
    expect(fake.meterEvents).toHaveLength(1);
  });
});

describe('webhook signatures', () => {
  const secret = 'whsec_test_secret';
  let event: StripeEventObject;
  let payload: string;

  beforeAll(async () => {
    const { session } = await subscriptionCheckout();
    event = fake.completeCheckout(session.id)[0];
    payload = stripeEventPayload(event);
  });

  it('signs as Stripe does: t=<ts>,v1=<hex HMAC-SHA256>', () => {
    const header = fake.sign(payload, secret, 1_700_000_000);
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(header).toBe(
      stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: 1_700_000_000 }),
    );
    expect(stripeSignatureHeader(payload, [secret, 'whsec_old'], 1)).toMatch(
      /^t=1,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/,
    );
  });

  it('is accepted by constructEvent', () => {
    const header = fake.sign(payload, secret);
    const verified = stripe.webhooks.constructEvent(payload, header, secret);
    expect(verified.id).toBe(event.id);
    expect(verified.type).toBe('checkout.session.completed');
    expect(stripe.webhooks.constructEvent(Buffer.from(payload), header, secret).id).toBe(event.id);
  });

  it('is refused for a re-serialised body, a wrong secret, or a timestamp past the tolerance', () => {
    const header = fake.sign(payload, secret);
    const reserialised = JSON.stringify(JSON.parse(payload));
    expect(reserialised).not.toBe(payload);
    expect(() => stripe.webhooks.constructEvent(reserialised, header, secret)).toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    );
    expect(() => stripe.webhooks.constructEvent(payload, header, 'whsec_wrong')).toThrow(
      /No signatures found matching the expected signature/,
    );
    const old = fake.sign(payload, secret, Math.floor(Date.now() / 1000) - 301);
    expect(() => stripe.webhooks.constructEvent(payload, old, secret)).toThrow(
      /Timestamp outside the tolerance zone/,
    );
    const recent = fake.sign(payload, secret, Math.floor(Date.now() / 1000) - 290);
    expect(stripe.webhooks.constructEvent(payload, recent, secret).id).toBe(event.id);
  });

  it('delivers an event to a URL as Stripe posts it', async () => {
    const received: { body: string; headers: Record<string, string | string[] | undefined> }[] = [];
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
        res.writeHead(200).end('{"received":true}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/stripe`;
      const answer = await fake.deliver(url, event);
      expect(answer).toEqual({ status: 200, body: '{"received":true}' });
      const [delivery] = received;
      expect(delivery.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(delivery.headers['user-agent']).toMatch(/^Stripe\/1\.0/);
      const verified = stripe.webhooks.constructEvent(
        delivery.body,
        delivery.headers['stripe-signature'] as string,
        fake.webhookSecret,
      );
      expect(verified.id).toBe(event.id);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('startFakes', () => {
  it('starts the fake Stripe with the providers and puts its environment in theirs', async () => {
    const fakes = await startFakes();
    try {
      expect(fakes.stripe.env).toMatchObject({
        STRIPE_API_BASE: fakes.stripe.origin,
        STRIPE_SECRET_KEY: fakes.stripe.apiKey,
        STRIPE_WEBHOOK_SECRET: fakes.stripe.webhookSecret,
      });
      expect(fakes.env).toMatchObject(fakes.stripe.env);
      expect(fakes.stripe.apiKey).toMatch(/^sk_test_fake/);
      const base = new URL(fakes.env.STRIPE_API_BASE);
      const client = new Stripe(fakes.env.STRIPE_SECRET_KEY, {
        host: base.hostname,
        port: Number(base.port),
        protocol: 'http',
      });
      expect((await client.prices.retrieve('price_pro')).unit_amount).toBe(4999);
    } finally {
      await fakes.close();
    }
  });
});
