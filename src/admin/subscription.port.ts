import { Injectable } from '@nestjs/common';
import type { Plan } from '../accounts/account.entity.js';

/**
 * Where the admin module meets Stripe: changing the plan of an account that pays through a subscription, cancelling
 * that subscription when the account is deleted, and finding an account by its Stripe customer id. The admin module
 * depends on this port only; the Stripe billing service provides it (bound in `AdminModule`), and until then the
 * default below says that no account has a subscription, so plans are changed directly.
 */
export abstract class SubscriptionPort {
  /** Whether the account pays through a live Stripe subscription (then plan changes go through Stripe). */
  abstract hasSubscription(accountId: string): Promise<boolean>;
  /** Moves the subscription to `plan`; the plan and allocation follow from Stripe's webhook. */
  abstract changePlan(accountId: string, plan: Plan): Promise<void>;
  /** Cancels the subscription at once (account deletion). A no-op when there is none. */
  abstract cancel(accountId: string): Promise<void>;
  /** The account whose Stripe customer id is `customerId`, or null. */
  abstract findAccountByCustomer(customerId: string): Promise<string | null>;
}

/** No Stripe: no account has a subscription. */
@Injectable()
export class NoSubscriptions extends SubscriptionPort {
  hasSubscription(): Promise<boolean> {
    return Promise.resolve(false);
  }

  changePlan(): Promise<void> {
    return Promise.reject(new Error('no subscription to change'));
  }

  cancel(): Promise<void> {
    return Promise.resolve();
  }

  findAccountByCustomer(): Promise<string | null> {
    return Promise.resolve(null);
  }
}
