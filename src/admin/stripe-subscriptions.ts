import { Injectable } from '@nestjs/common';
import type { Plan } from '../accounts/account.entity.js';
import { StripeBillingService } from '../billing/stripe/stripe-billing.service.js';
import { SubscriptionPort } from './subscription.port.js';

/** The admin module's Stripe: subscriptions as the Stripe billing service knows them (none without Stripe). */
@Injectable()
export class StripeSubscriptions extends SubscriptionPort {
  constructor(private readonly stripe: StripeBillingService) {
    super();
  }

  hasSubscription(accountId: string): Promise<boolean> {
    return this.stripe.hasSubscription(accountId);
  }

  changePlan(accountId: string, plan: Plan): Promise<void> {
    return this.stripe.changePlan(accountId, plan);
  }

  cancel(accountId: string): Promise<void> {
    return this.stripe.cancelSubscription(accountId);
  }

  findAccountByCustomer(customerId: string): Promise<string | null> {
    return this.stripe.accountOfCustomer(customerId);
  }
}
