import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { Plan } from '../../accounts/account.entity.js';
import { MICRO_PER_CREDIT } from '../../catalog/credits.js';
import { type BillingRow, lockBillingRow, startPeriod } from '../billing-periods.js';
import { LedgerWriter } from '../ledger.writer.js';
import { includedMicro } from '../plans.js';

/** A subscription as Stripe says it is now (fetched, never taken from an event's possibly stale snapshot). */
export interface SubscriptionState {
  id: string;
  customerId: string;
  /** The account named in the subscription's metadata (set at checkout), if any. */
  accountId: string | null;
  status: string;
  /** The paid plan of its Price; null when none of its items is a plan's Price. */
  plan: Exclude<Plan, 'free'> | null;
  periodStart: Date;
  periodEnd: Date;
  cancelAtPeriodEnd: boolean;
}

export interface CheckoutAccount {
  id: string;
  email: string;
  plan: Plan;
  stripeCustomerId: string | null;
  subscriptionStatus: string | null;
}

/** What happened to the account: the caller drops its cached keys when its plan or payment state moved. */
export type Applied = 'changed' | 'unchanged' | 'unknown_account';

const RANK: Record<Plan, number> = { free: 0, power: 1, pro: 2 };
/** Subscription states in which the customer keeps the plan (past due: within the grace period). */
const KEEPS_PLAN = new Set(['active', 'trialing', 'past_due', 'unpaid']);
/** States in which the current period is paid for: only then does a new period start. */
const PAID = new Set(['active', 'trialing']);
/** States in which the subscription is over. */
const ENDED = new Set(['canceled', 'incomplete_expired']);

/**
 * The account's side of Stripe: customer ids, subscription state, webhook events applied (`stripe_events`), plan
 * changes, period starts and pack purchases, each a ledger entry whose reference is the Stripe object's id.
 */
@Injectable()
export class SubscriptionsRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ledger: LedgerWriter,
  ) {}

  async checkoutAccount(accountId: string): Promise<CheckoutAccount | null> {
    const rows = (await this.dataSource.query(
      `SELECT id, email, plan, stripe_customer_id, subscription_status FROM accounts WHERE id = $1`,
      [accountId],
    )) as Array<{
      id: string;
      email: string;
      plan: Plan;
      stripe_customer_id: string | null;
      subscription_status: string | null;
    }>;
    const r = rows[0];
    return r
      ? {
          id: r.id,
          email: r.email,
          plan: r.plan,
          stripeCustomerId: r.stripe_customer_id,
          subscriptionStatus: r.subscription_status,
        }
      : null;
  }

  /** Stores the account's Stripe customer unless it has one already; returns the one stored. */
  async setCustomer(accountId: string, customerId: string): Promise<string> {
    const rows = (await this.dataSource.query(
      `UPDATE accounts SET stripe_customer_id = coalesce(stripe_customer_id, $2) WHERE id = $1
       RETURNING stripe_customer_id`,
      [accountId, customerId],
    )) as unknown;
    const list = (Array.isArray(rows) && Array.isArray(rows[0]) ? rows[0] : rows) as Array<{
      stripe_customer_id: string;
    }>;
    return list[0]?.stripe_customer_id ?? customerId;
  }

  async eventApplied(eventId: string): Promise<boolean> {
    const rows = (await this.dataSource.query(`SELECT 1 FROM stripe_events WHERE id = $1`, [
      eventId,
    ])) as unknown[];
    return rows.length > 0;
  }

  /**
   * Applies an event once: its row in `stripe_events` and its effect commit together. The same event reaching
   * several instances at once waits on the first one's row and then finds it there (nothing applied twice).
   */
  async applyOnce<T>(
    event: { id: string; type: string },
    apply: (m: EntityManager) => Promise<T>,
  ): Promise<{ applied: boolean; result?: T }> {
    return this.dataSource.transaction(async (m) => {
      const inserted = (await m.query(
        `INSERT INTO stripe_events (id, type) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING id`,
        [event.id, event.type],
      )) as unknown[];
      if (inserted.length === 0) {
        return { applied: false };
      }
      return { applied: true, result: await apply(m) };
    });
  }

  /**
   * Brings the account in line with its subscription's own state. A new paid period starts the plan's allocation
   * (once per period: the reference is the subscription and the period's start); an upgrade applies at once (the
   * difference of the allocations, once per subscription, period and plan); a downgrade waits for the period's
   * end; an ended subscription leaves the account on Free at the end of the period it paid for.
   */
  async applySubscription(m: EntityManager, state: SubscriptionState, now: Date): Promise<Applied> {
    const accountId = state.accountId ?? (await this.accountOfCustomer(m, state.customerId));
    const row = accountId ? await lockBillingRow(m, accountId) : null;
    if (!row) {
      return 'unknown_account';
    }
    if (row.stripeSubscriptionId !== null && row.stripeSubscriptionId !== state.id) {
      // Another subscription than the account's: only a newer live one replaces it.
      if (!KEEPS_PLAN.has(state.status) || KEEPS_PLAN.has(row.subscriptionStatus ?? '')) {
        return 'unchanged';
      }
    }
    if (ENDED.has(state.status)) {
      await m.query(
        `UPDATE accounts SET subscription_status = $2, stripe_subscription_id = $3, past_due_since = NULL,
                cancel_at_period_end = false, pending_plan = CASE WHEN plan = 'free' THEN NULL ELSE 'free' END
          WHERE id = $1`,
        [row.id, state.status, state.id],
      );
      return 'changed';
    }
    if (!KEEPS_PLAN.has(state.status) || state.plan === null) {
      return 'unchanged'; // incomplete (not paid yet), or a Price that is no plan of ours
    }
    const pastDueSince =
      state.status === 'active' || state.status === 'trialing' ? null : (row.pastDueSince ?? now);
    await m.query(
      `UPDATE accounts SET subscription_status = $2, stripe_subscription_id = $3, stripe_customer_id = $4,
              past_due_since = $5, cancel_at_period_end = $6
        WHERE id = $1`,
      [row.id, state.status, state.id, state.customerId, pastDueSince, state.cancelAtPeriodEnd],
    );
    const newPeriod =
      state.periodStart.getTime() > row.periodStart.getTime() || row.stripeSubscriptionId !== state.id;
    if (newPeriod && PAID.has(state.status)) {
      await startPeriod(
        m,
        this.ledger,
        row,
        {
          plan: state.plan,
          start: state.periodStart,
          end: state.periodEnd,
          reference: `reset:${state.id}:${Math.floor(state.periodStart.getTime() / 1000)}`,
        },
        now,
      );
      return 'changed';
    }
    if (RANK[state.plan] > RANK[row.plan]) {
      await this.ledger.post(m, {
        accountId: row.id,
        kind: 'plan',
        amountMicro: includedMicro(state.plan) - includedMicro(row.plan),
        reference: `upgrade:${state.id}:${Math.floor(row.periodStart.getTime() / 1000)}:${state.plan}`,
        note: `upgrade from ${row.plan} to ${state.plan}: the rest of the allocation`,
      });
      await m.query(`UPDATE accounts SET plan = $2, pending_plan = NULL WHERE id = $1`, [row.id, state.plan]);
    } else if (RANK[state.plan] < RANK[row.plan]) {
      await m.query(`UPDATE accounts SET pending_plan = $2 WHERE id = $1`, [row.id, state.plan]);
    } else {
      await m.query(`UPDATE accounts SET pending_plan = NULL WHERE id = $1`, [row.id]);
    }
    return 'changed';
  }

  /** A pack paid in Checkout: its credits, once per session (they are kept across period resets). */
  async purchase(m: EntityManager, accountId: string, credits: number, sessionId: string): Promise<Applied> {
    const row: BillingRow | null = await lockBillingRow(m, accountId);
    if (!row) {
      return 'unknown_account';
    }
    const amount = BigInt(credits) * MICRO_PER_CREDIT;
    const posted = await this.ledger.post(m, {
      accountId,
      kind: 'purchase',
      amountMicro: amount,
      reference: `purchase:${sessionId}`,
      note: `${credits} credits pack`,
    });
    if (posted) {
      await m.query(`UPDATE accounts SET purchased_micro = purchased_micro + $2 WHERE id = $1`, [
        accountId,
        amount.toString(),
      ]);
    }
    return posted ? 'changed' : 'unchanged';
  }

  /** The account's Stripe subscription while it is live (active, trialing, past due or unpaid), else null. */
  async liveSubscription(accountId: string): Promise<string | null> {
    const rows = (await this.dataSource.query(
      `SELECT stripe_subscription_id FROM accounts
        WHERE id = $1 AND stripe_subscription_id IS NOT NULL
          AND subscription_status IN ('active', 'trialing', 'past_due', 'unpaid')`,
      [accountId],
    )) as Array<{ stripe_subscription_id: string }>;
    return rows[0]?.stripe_subscription_id ?? null;
  }

  async accountOfCustomerId(customerId: string): Promise<string | null> {
    return this.accountOfCustomer(this.dataSource.manager, customerId);
  }

  private async accountOfCustomer(m: EntityManager, customerId: string): Promise<string | null> {
    const rows = (await m.query(`SELECT id FROM accounts WHERE stripe_customer_id = $1`, [
      customerId,
    ])) as Array<{
      id: string;
    }>;
    return rows[0]?.id ?? null;
  }
}
