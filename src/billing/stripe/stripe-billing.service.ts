import { Inject, Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import type { Plan } from '../../accounts/account.entity.js';
import { Clock } from '../../common/clock.js';
import { ErrorCode, GatewayError } from '../../common/errors.js';
import { CONFIG, type Config, type StripeConfig } from '../../config/config.js';
import type { AuthContext } from '../../keys/auth-context.js';
import { KeysService } from '../../keys/keys.service.js';
import { StripeApi } from './stripe.api.js';
import { type Applied, type SubscriptionState, SubscriptionsRepository } from './subscriptions.repository.js';

export interface CheckoutRequest {
  plan?: string;
  pack?: number;
}

/**
 * Checkout, the Customer Portal and the webhook: what a customer pays for in Stripe becomes their plan, period and
 * credits here. Every webhook event is applied once, from the subscription's own state fetched from Stripe (events
 * may arrive late, twice or out of order).
 */
@Injectable()
export class StripeBillingService {
  private readonly logger = new Logger(StripeBillingService.name);

  constructor(
    private readonly stripe: StripeApi,
    private readonly subscriptions: SubscriptionsRepository,
    private readonly keys: KeysService,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  async checkout(auth: AuthContext, request: CheckoutRequest): Promise<{ id: string; url: string }> {
    const stripe = this.stripe.config;
    const choice = this.choice(stripe, request);
    const account = await this.subscriptions.checkoutAccount(auth.accountId);
    if (!account) {
      throw new GatewayError(ErrorCode.NotFound, 'Account not found.');
    }
    const subscribed = ['active', 'trialing', 'past_due', 'unpaid'].includes(
      account.subscriptionStatus ?? '',
    );
    if (choice.kind === 'plan' && subscribed) {
      throw new GatewayError(
        ErrorCode.Conflict,
        account.plan === choice.plan
          ? `The account is on the ${choice.plan} plan already.`
          : 'The account has a subscription already: change its plan in the billing portal (POST /v1/billing/portal).',
        { param: 'plan' },
      );
    }
    const customer =
      account.stripeCustomerId ??
      (await this.subscriptions.setCustomer(
        account.id,
        await this.stripe.createCustomer(account.id, account.email),
      ));
    const metadata = {
      account_id: account.id,
      ...(choice.kind === 'plan' ? { plan: choice.plan } : { pack: String(choice.credits) }),
    };
    const base = this.config.publicUrl;
    return this.stripe.createCheckoutSession({
      mode: choice.kind === 'plan' ? 'subscription' : 'payment',
      customer,
      client_reference_id: account.id,
      metadata,
      line_items: choice.lineItems,
      ...(choice.kind === 'plan' ? { subscription_data: { metadata: { account_id: account.id } } } : {}),
      success_url: `${base}/?checkout=success&session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${base}/?checkout=cancelled`,
    });
  }

  /** Whether the account pays through a live subscription (always false without Stripe configured). */
  async hasSubscription(accountId: string): Promise<boolean> {
    return this.stripe.configured && (await this.subscriptions.liveSubscription(accountId)) !== null;
  }

  /**
   * Support moves a paying account to another plan through Stripe: Power ↔ Pro at once (prorated), Free at the end
   * of the paid period. The plan and its allocation follow from Stripe's webhook, as for a change the customer makes.
   */
  async changePlan(accountId: string, plan: Plan): Promise<void> {
    const subscription = await this.subscriptions.liveSubscription(accountId);
    if (!subscription) {
      throw new Error('no live subscription');
    }
    if (plan === 'free') {
      await this.stripe.cancelAtPeriodEnd(subscription);
    } else {
      await this.stripe.changeSubscriptionPrice(subscription, this.stripe.config.prices[plan]);
    }
  }

  /** Ends the account's subscription at once (deletion); nothing when there is none. */
  async cancelSubscription(accountId: string): Promise<void> {
    const subscription = this.stripe.configured ? await this.subscriptions.liveSubscription(accountId) : null;
    if (subscription) {
      await this.stripe.cancelSubscription(subscription);
    }
  }

  /** The account of a Stripe customer id, or null. */
  accountOfCustomer(customerId: string): Promise<string | null> {
    return this.subscriptions.accountOfCustomerId(customerId);
  }

  async portal(auth: AuthContext): Promise<{ url: string }> {
    this.stripe.requireConfigured();
    const account = await this.subscriptions.checkoutAccount(auth.accountId);
    if (!account?.stripeCustomerId) {
      throw new GatewayError(
        ErrorCode.NotFound,
        'The account has no billing profile yet: subscribe or buy credits first (POST /v1/billing/checkout).',
      );
    }
    return {
      url: await this.stripe.createPortalSession(account.stripeCustomerId, `${this.config.publicUrl}/`),
    };
  }

  /** Verifies and applies a webhook event (once). Unknown types are acknowledged and ignored. */
  async webhook(payload: Buffer | undefined, signature: string | undefined): Promise<{ received: true }> {
    const event = this.stripe.verifyEvent(payload, signature);
    if (await this.subscriptions.eventApplied(event.id)) {
      return { received: true };
    }
    const now = this.clock.date();
    let applied: Applied | undefined;
    let accountHint: string | null = null;
    switch (event.type) {
      // A pack paid by a delayed method (a bank debit) completes unpaid: it is credited when the money arrives.
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded': {
        const session = event.data.object;
        accountHint = session.client_reference_id ?? session.metadata?.account_id ?? null;
        if (session.mode === 'subscription' && session.subscription) {
          const state = await this.subscriptionState(idOf(session.subscription), accountHint);
          applied = (
            await this.subscriptions.applyOnce(event, (m) =>
              this.subscriptions.applySubscription(m, state, now),
            )
          ).result;
        } else if (session.mode === 'payment' && session.payment_status === 'paid' && accountHint) {
          const credits = this.packCredits(session);
          const account = accountHint;
          applied = (
            await this.subscriptions.applyOnce(event, (m) =>
              credits === null
                ? Promise.resolve<Applied>('unchanged')
                : this.subscriptions.purchase(m, account, credits, session.id),
            )
          ).result;
        } else {
          await this.subscriptions.applyOnce(event, () => Promise.resolve());
        }
        break;
      }
      case 'customer.subscription.created':
      case 'customer.subscription.updated':
      case 'customer.subscription.deleted': {
        const state = await this.subscriptionState(event.data.object.id, null);
        applied = (
          await this.subscriptions.applyOnce(event, (m) =>
            this.subscriptions.applySubscription(m, state, now),
          )
        ).result;
        break;
      }
      case 'invoice.paid':
      case 'invoice.payment_failed': {
        const subscription = event.data.object.parent?.subscription_details?.subscription;
        if (subscription) {
          const state = await this.subscriptionState(idOf(subscription), null);
          if (event.type === 'invoice.payment_failed' && state.status === 'active') {
            // A failed attempt Stripe has not turned into past_due yet is past due for us.
            state.status = 'past_due';
          }
          applied = (
            await this.subscriptions.applyOnce(event, (m) =>
              this.subscriptions.applySubscription(m, state, now),
            )
          ).result;
        } else {
          await this.subscriptions.applyOnce(event, () => Promise.resolve());
        }
        break;
      }
      default:
        await this.subscriptions.applyOnce(event, () => Promise.resolve());
    }
    if (applied === 'unknown_account') {
      this.logger.warn({ event: event.id, type: event.type }, 'Stripe event for no known account: ignored');
    }
    if (applied === 'changed') {
      const accountId = await this.accountOf(event, accountHint);
      if (accountId) {
        await this.keys.accountChanged(accountId); // the plan and payment state cached with keys
      }
    }
    return { received: true };
  }

  private async accountOf(event: Stripe.Event, hint: string | null): Promise<string | null> {
    if (hint) {
      return hint;
    }
    const object = event.data.object as { customer?: string | { id: string } | null };
    const customer = object.customer ? idOf(object.customer) : null;
    return customer ? this.subscriptions.accountOfCustomerId(customer) : null;
  }

  private async subscriptionState(id: string, accountHint: string | null): Promise<SubscriptionState> {
    const subscription = await this.stripe.retrieveSubscription(id);
    const prices = this.stripe.config.prices;
    let plan: SubscriptionState['plan'] = null;
    let item = subscription.items.data[0];
    for (const candidate of subscription.items.data) {
      const found =
        candidate.price.id === prices.pro ? 'pro' : candidate.price.id === prices.power ? 'power' : null;
      if (found) {
        plan = found;
        item = candidate;
      }
    }
    return {
      id: subscription.id,
      customerId: idOf(subscription.customer),
      accountId: subscription.metadata?.account_id ?? accountHint,
      status: subscription.status,
      plan,
      periodStart: new Date((item?.current_period_start ?? subscription.start_date) * 1000),
      periodEnd: new Date((item?.current_period_end ?? subscription.start_date) * 1000),
      cancelAtPeriodEnd: subscription.cancel_at_period_end,
    };
  }

  private packCredits(session: Stripe.Checkout.Session): number | null {
    const credits = Number(session.metadata?.pack);
    return this.stripe.config.packs.some((p) => p.credits === credits) ? credits : null;
  }

  private choice(
    stripe: StripeConfig,
    request: CheckoutRequest,
  ):
    | { kind: 'plan'; plan: Exclude<Plan, 'free'>; lineItems: Stripe.Checkout.SessionCreateParams.LineItem[] }
    | { kind: 'pack'; credits: number; lineItems: Stripe.Checkout.SessionCreateParams.LineItem[] } {
    if ((request.plan === undefined) === (request.pack === undefined)) {
      throw new GatewayError(ErrorCode.InvalidRequest, 'Send either "plan" ("power" or "pro") or "pack".', {
        param: request.plan === undefined ? 'plan' : 'pack',
      });
    }
    if (request.plan !== undefined) {
      if (request.plan !== 'power' && request.plan !== 'pro') {
        throw new GatewayError(
          ErrorCode.InvalidRequest,
          `Unknown plan "${request.plan}": "power" or "pro".`,
          {
            param: 'plan',
          },
        );
      }
      const overage = stripe.overagePrices[request.plan];
      return {
        kind: 'plan',
        plan: request.plan,
        lineItems: [
          { price: stripe.prices[request.plan], quantity: 1 },
          ...(overage ? [{ price: overage }] : []),
        ],
      };
    }
    const pack = stripe.packs.find((p) => p.credits === request.pack);
    if (!pack) {
      const sizes = stripe.packs.map((p) => p.credits).join(', ');
      throw new GatewayError(
        ErrorCode.InvalidRequest,
        `Unknown pack ${String(request.pack)}: ${sizes === '' ? 'no packs are on sale' : `packs of ${sizes} credits`}.`,
        { param: 'pack' },
      );
    }
    return { kind: 'pack', credits: pack.credits, lineItems: [{ price: pack.priceId, quantity: 1 }] };
  }
}

function idOf(value: string | { id: string }): string {
  return typeof value === 'string' ? value : value.id;
}
