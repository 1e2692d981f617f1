import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Plan } from '../accounts/account.entity.js';
import type { LedgerKind } from './ledger-entry.entity.js';
import { lockBillingRow, startPeriod } from './billing-periods.js';
import { LedgerWriter } from './ledger.writer.js';

/** Subscription states whose periods Stripe drives (renewals roll them over). */
const LIVE_SUBSCRIPTION = `'active', 'trialing', 'past_due', 'unpaid'`;

export interface AccountBalance {
  plan: Plan;
  balanceMicro: bigint;
  heldMicro: bigint;
  periodStart: Date;
  periodEnd: Date;
  purchasedMicro: bigint;
  subscriptionStatus: string | null;
  pendingPlan: Plan | null;
  cancelAtPeriodEnd: boolean;
  pastDueSince: Date | null;
}

/**
 * Balances, grants and billing periods in SQL (settlements: `SettlementRepository`; leases: `LeasesRepository`).
 * The balance column moves only together with a ledger insert, so it always equals the ledger's sum.
 */
@Injectable()
export class BillingRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ledger: LedgerWriter,
  ) {}

  /** Appends a ledger entry and moves the balance with it (grant, adjustment, refund…). False if the reference exists. */
  async credit(
    accountId: string,
    kind: LedgerKind,
    amount: bigint,
    reference: string,
    note: string | null,
  ): Promise<boolean> {
    return this.dataSource.transaction((m) =>
      this.ledger.post(m, { accountId, kind, amountMicro: amount, reference, note }),
    );
  }

  /**
   * Starts the next billing period of every account whose period has ended and whose periods are not Stripe's (a
   * live subscription rolls over when its renewal is paid): a `reset` entry brings the balance back to the plan's
   * allocation plus the pack credits left (no rollover, overage cleared). A plan change due at the period's end
   * (a cancelled or downgraded subscription) takes effect here. The entry's reference names the period, so it is
   * written once per period per account even when several instances run this at the same moment.
   */
  async resetDuePeriods(now: Date): Promise<{ count: number; planChanged: string[] }> {
    let count = 0;
    const planChanged: string[] = [];
    for (;;) {
      const done = await this.dataSource.transaction(async (m) => {
        const due = (await m.query(
          `SELECT id, period_end + interval '1 month' AS next_end FROM accounts
            WHERE period_end <= $1 AND status NOT IN ('pending_deletion', 'deleted')
              AND (subscription_status IS NULL OR subscription_status NOT IN (${LIVE_SUBSCRIPTION}))
            ORDER BY period_end LIMIT 1 FOR UPDATE SKIP LOCKED`,
          [now],
        )) as Array<{ id: string; next_end: Date }>;
        if (due.length === 0) {
          return true;
        }
        const row = (await lockBillingRow(m, due[0].id))!;
        // Postgres' calendar month: the 31st is followed by the month's last day (and the 28th after February).
        const end = new Date(due[0].next_end);
        const started = await startPeriod(
          m,
          this.ledger,
          row,
          {
            plan: row.pendingPlan ?? row.plan,
            start: row.periodEnd,
            end,
            reference: `reset:${row.id}:${row.periodEnd.toISOString()}`,
          },
          now,
        );
        if (!started) {
          return true; // that period had started already (nothing left to do for it)
        }
        count += 1;
        if (row.pendingPlan !== null && row.pendingPlan !== row.plan) {
          planChanged.push(row.id);
        }
        return false;
      });
      if (done) {
        return { count, planChanged };
      }
    }
  }

  async balance(accountId: string): Promise<AccountBalance | null> {
    const rows = (await this.dataSource.query(
      `SELECT plan, balance_micro, held_micro, period_start, period_end, purchased_micro, subscription_status,
              pending_plan, cancel_at_period_end, past_due_since
         FROM accounts WHERE id = $1`,
      [accountId],
    )) as Array<{
      plan: Plan;
      balance_micro: string;
      held_micro: string;
      period_start: Date;
      period_end: Date;
      purchased_micro: string;
      subscription_status: string | null;
      pending_plan: Plan | null;
      cancel_at_period_end: boolean;
      past_due_since: Date | null;
    }>;
    const row = rows[0];
    return row
      ? {
          plan: row.plan,
          balanceMicro: BigInt(row.balance_micro),
          heldMicro: BigInt(row.held_micro),
          periodStart: new Date(row.period_start),
          periodEnd: new Date(row.period_end),
          purchasedMicro: BigInt(row.purchased_micro),
          subscriptionStatus: row.subscription_status,
          pendingPlan: row.pending_plan,
          cancelAtPeriodEnd: row.cancel_at_period_end,
          pastDueSince: row.past_due_since ? new Date(row.past_due_since) : null,
        }
      : null;
  }

  /** Live usage cost of the period, in total and by served model. */
  async usedSince(
    accountId: string,
    since: Date,
  ): Promise<Array<{ model: string; requests: number; costMicro: bigint }>> {
    const rows = (await this.dataSource.query(
      `SELECT model_served AS model, count(*)::int AS requests, coalesce(sum(cost_micro), 0)::text AS cost
         FROM usage_events
        WHERE account_id = $1 AND created_at >= $2 AND NOT test AND model_served IS NOT NULL
        GROUP BY model_served ORDER BY sum(cost_micro) DESC`,
      [accountId, since],
    )) as Array<{ model: string; requests: number; cost: string }>;
    return rows.map((r) => ({ model: r.model, requests: r.requests, costMicro: BigInt(r.cost) }));
  }
}
