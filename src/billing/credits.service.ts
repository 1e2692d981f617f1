import { Injectable } from '@nestjs/common';
import { formatCredits } from '../catalog/credits.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { BillingRepository } from './billing.repository.js';
import { overageMicro, purchasedLeft } from './billing-periods.js';
import { PLANS, includedMicro } from './plans.js';

export interface CreditsView {
  object: 'credits';
  plan: string;
  balance: string;
  held: string;
  period: { start: string; end: string };
  included: string;
  used: string;
  overage: string;
  overage_price_usd_per_credit: string | null;
  overage_usd: string;
  purchased: string;
  spend_order: string[];
  subscription: {
    status: string | null;
    next_billing_date: string | null;
    cancel_at_period_end: boolean;
    plan_at_period_end: string | null;
    payment_overdue_since: string | null;
  };
  by_model: Array<{ model: string; requests: number; credits: string }>;
}

@Injectable()
export class CreditsService {
  constructor(private readonly billing: BillingRepository) {}

  /** Balance, plan, period, allocation, use and overage this period, and use by model. */
  async credits(accountId: string): Promise<CreditsView> {
    const balance = await this.billing.balance(accountId);
    if (!balance) {
      throw new GatewayError(ErrorCode.NotFound, 'Account not found.');
    }
    const byModel = await this.billing.usedSince(accountId, balance.periodStart);
    const used = byModel.reduce((sum, m) => sum + m.costMicro, 0n);
    const included = includedMicro(balance.plan);
    const overage = overageMicro(balance.plan, balance.balanceMicro);
    const overagePrice = PLANS[balance.plan].overageMilliCentsPerCredit;
    const live = ['active', 'trialing', 'past_due', 'unpaid'].includes(balance.subscriptionStatus ?? '');
    return {
      object: 'credits',
      plan: balance.plan,
      balance: formatCredits(balance.balanceMicro),
      held: formatCredits(balance.heldMicro),
      period: { start: balance.periodStart.toISOString(), end: balance.periodEnd.toISOString() },
      included: formatCredits(included),
      used: formatCredits(used),
      overage: formatCredits(overage),
      overage_price_usd_per_credit: overagePrice === null ? null : (overagePrice / 100_000).toString(),
      // µcr × milli-cents per credit / 10^5 = micro-dollars, printed like credits (6 decimals at most).
      overage_usd: formatCredits((overage * BigInt(overagePrice ?? 0)) / 100_000n),
      purchased: formatCredits(purchasedLeft(balance.balanceMicro, balance.purchasedMicro)),
      spend_order:
        balance.plan === 'free' ? ['allocation', 'purchased'] : ['allocation', 'purchased', 'overage'],
      subscription: {
        status: balance.subscriptionStatus,
        next_billing_date: live ? balance.periodEnd.toISOString() : null,
        cancel_at_period_end: balance.cancelAtPeriodEnd,
        plan_at_period_end: balance.pendingPlan,
        payment_overdue_since: balance.pastDueSince?.toISOString() ?? null,
      },
      by_model: byModel.map((m) => ({
        model: m.model,
        requests: m.requests,
        credits: formatCredits(m.costMicro),
      })),
    };
  }
}
