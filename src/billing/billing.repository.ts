import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Plan } from '../accounts/account.entity.js';
import type { LedgerKind } from './ledger-entry.entity.js';
import { LedgerWriter } from './ledger.writer.js';

export interface AccountBalance {
  plan: Plan;
  balanceMicro: bigint;
  heldMicro: bigint;
  periodStart: Date;
  periodEnd: Date;
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
   * Starts the next billing period of every account whose period has ended: a `reset` entry brings the balance
   * back to the plan's allocation (no rollover, overage cleared). The entry's reference names the period, so
   * it is written once per period per account even when several instances run this at the same moment.
   */
  async resetDuePeriods(includedFor: (plan: Plan) => bigint, now: Date): Promise<number> {
    let count = 0;
    for (;;) {
      const done = await this.dataSource.transaction(async (m) => {
        const due = (await m.query(
          `SELECT id, plan, balance_micro, period_end FROM accounts
            WHERE period_end <= $1 AND status NOT IN ('pending_deletion', 'deleted')
            ORDER BY period_end LIMIT 1 FOR UPDATE SKIP LOCKED`,
          [now],
        )) as Array<{ id: string; plan: Plan; balance_micro: string; period_end: Date }>;
        if (due.length === 0) {
          return true;
        }
        const account = due[0];
        const periodEnd = new Date(account.period_end);
        const delta = includedFor(account.plan) - BigInt(account.balance_micro);
        const reference = `reset:${account.id}:${periodEnd.toISOString()}`;
        const note = `${account.plan} allocation for a new period`;
        if (
          await this.ledger.post(m, {
            accountId: account.id,
            kind: 'reset',
            amountMicro: delta,
            reference,
            note,
          })
        ) {
          await m.query(
            `UPDATE accounts SET period_start = period_end, period_end = period_end + interval '1 month'
              WHERE id = $1`,
            [account.id],
          );
          count += 1;
        }
        return false;
      });
      if (done) {
        return count;
      }
    }
  }

  async balance(accountId: string): Promise<AccountBalance | null> {
    const rows = (await this.dataSource.query(
      `SELECT plan, balance_micro, held_micro, period_start, period_end FROM accounts WHERE id = $1`,
      [accountId],
    )) as Array<{
      plan: Plan;
      balance_micro: string;
      held_micro: string;
      period_start: Date;
      period_end: Date;
    }>;
    const row = rows[0];
    return row
      ? {
          plan: row.plan,
          balanceMicro: BigInt(row.balance_micro),
          heldMicro: BigInt(row.held_micro),
          periodStart: new Date(row.period_start),
          periodEnd: new Date(row.period_end),
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
