import { createRequire } from 'node:module';
import { Inject, Injectable } from '@nestjs/common';
import type Stripe from 'stripe';
import { Clock } from '../../common/clock.js';
import { ErrorCode, GatewayError } from '../../common/errors.js';
import { CONFIG, type Config, type StripeConfig } from '../../config/config.js';

/**
 * The SDK is loaded only when Stripe is configured: a gateway without billing does not pay its start-up time and
 * memory (about 3 MiB of heap).
 */
function loadStripe(): typeof Stripe {
  return createRequire(import.meta.url)('stripe') as typeof Stripe;
}

/** Seconds a webhook signature stays valid (Stripe's default tolerance). */
const SIGNATURE_TOLERANCE_S = 300;

/** A meter event Stripe refused for good (a 4xx other than a duplicate): retrying the same request cannot help. */
export class MeterEventRefused extends Error {}

/**
 * The one place that talks to Stripe, through the official SDK (pointed at `STRIPE_API_BASE` when set: the fake
 * Stripe in tests and `npm run fakes`). Without `STRIPE_SECRET_KEY` every call is a 503 "billing is not configured".
 */
@Injectable()
export class StripeApi {
  private readonly client: Stripe | null;
  private readonly settings: StripeConfig | null;

  constructor(
    @Inject(CONFIG) config: Config,
    private readonly clock: Clock,
  ) {
    this.settings = config.stripe;
    this.client = config.stripe
      ? new (loadStripe())(config.stripe.secretKey, {
          ...(config.stripe.api ?? {}),
          maxNetworkRetries: 2,
          timeout: 15_000,
          appInfo: { name: 'conflux-router' },
        })
      : null;
  }

  get configured(): boolean {
    return this.client !== null;
  }

  /** The Stripe settings, or 503 `billing is not configured`. */
  get config(): StripeConfig {
    if (!this.settings) {
      throw notConfigured();
    }
    return this.settings;
  }

  /** 503 `billing is not configured` without `STRIPE_SECRET_KEY`. */
  requireConfigured(): void {
    if (!this.client) {
      throw notConfigured();
    }
  }

  private get sdk(): Stripe {
    if (!this.client) {
      throw notConfigured();
    }
    return this.client;
  }

  /** The verified event, or 400 when the signature is missing, wrong, stale or not over these exact bytes. */
  verifyEvent(payload: Buffer | undefined, signature: string | undefined): Stripe.Event {
    const secret = this.config.webhookSecret;
    if (payload === undefined || signature === undefined || signature === '') {
      throw new GatewayError(ErrorCode.InvalidRequest, 'Missing Stripe-Signature header or body.', {
        param: 'stripe-signature',
      });
    }
    try {
      return this.sdk.webhooks.constructEvent(
        payload,
        signature,
        secret,
        SIGNATURE_TOLERANCE_S,
        undefined,
        this.clock.now(), // ms: the SDK divides
      );
    } catch (error) {
      throw new GatewayError(
        ErrorCode.InvalidRequest,
        `Webhook signature verification failed: ${(error as Error).message.split('\n')[0]}`,
        { param: 'stripe-signature' },
      );
    }
  }

  async createCustomer(accountId: string, email: string): Promise<string> {
    const customer = await this.call(() =>
      this.sdk.customers.create(
        { email, metadata: { account_id: accountId } },
        // One customer per account even when two checkouts race: the second create is Stripe's replay.
        { idempotencyKey: `customer:${accountId}` },
      ),
    );
    return customer.id;
  }

  async createCheckoutSession(
    params: Stripe.Checkout.SessionCreateParams,
  ): Promise<{ id: string; url: string }> {
    const session = await this.call(() => this.sdk.checkout.sessions.create(params));
    return { id: session.id, url: session.url ?? '' };
  }

  async createPortalSession(customer: string, returnUrl: string): Promise<string> {
    const session = await this.call(() =>
      this.sdk.billingPortal.sessions.create({ customer, return_url: returnUrl }),
    );
    return session.url;
  }

  retrieveSubscription(id: string): Promise<Stripe.Subscription> {
    return this.call(() => this.sdk.subscriptions.retrieve(id));
  }

  /** Ends a subscription at once (the account is deleted): Stripe then sends `customer.subscription.deleted`. */
  async cancelSubscription(id: string): Promise<void> {
    await this.call(() => this.sdk.subscriptions.cancel(id));
  }

  /**
   * Moves a subscription's plan item to another plan's Price, prorated (support changing a paying customer's
   * plan): Stripe then sends `customer.subscription.updated`, whose handler applies the plan and its allocation.
   */
  async changeSubscriptionPrice(id: string, price: string): Promise<void> {
    const subscription = await this.retrieveSubscription(id);
    const plans = new Set(Object.values(this.config.prices));
    const item = subscription.items.data.find((i) => plans.has(i.price.id));
    if (!item) {
      throw new Error(`subscription ${id} has no plan item`);
    }
    await this.call(() =>
      this.sdk.subscriptions.update(id, {
        items: [{ id: item.id, price }],
        proration_behavior: 'create_prorations',
        cancel_at_period_end: false,
      }),
    );
  }

  /** Ends a subscription at the end of its period (a move to Free): the plan holds until then. */
  async cancelAtPeriodEnd(id: string): Promise<void> {
    await this.call(() => this.sdk.subscriptions.update(id, { cancel_at_period_end: true }));
  }

  /**
   * Reports usage to the meter. A duplicate identifier means Stripe has it already (a resend after a crash or a
   * lost answer): that is success. Other refusals throw `MeterEventRefused`; faults throw the SDK's error.
   */
  async sendMeterEvent(event: {
    identifier: string;
    customer: string;
    value: bigint;
    timestamp: number;
  }): Promise<void> {
    try {
      await this.sdk.billing.meterEvents.create(
        {
          event_name: this.config.meterEventName,
          identifier: event.identifier,
          timestamp: event.timestamp,
          payload: { stripe_customer_id: event.customer, value: event.value.toString() },
        },
        { idempotencyKey: `meter:${event.identifier}` },
      );
    } catch (error) {
      if (error instanceof loadStripe().errors.StripeInvalidRequestError) {
        if (/already exists with identifier/i.test(error.message)) {
          return;
        }
        throw new MeterEventRefused(error.message);
      }
      throw error;
    }
  }

  /** Stripe's failures as the gateway's: a 502 naming Stripe (never its secrets), not a 500. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof loadStripe().errors.StripeError) {
        throw new GatewayError(
          ErrorCode.UpstreamError,
          `Stripe could not be reached or refused: ${error.message}`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }
}

export function notConfigured(): GatewayError {
  return new GatewayError(
    ErrorCode.ServiceUnavailable,
    'Billing is not configured on this gateway (no STRIPE_SECRET_KEY).',
    { code: 'billing_not_configured' },
  );
}
