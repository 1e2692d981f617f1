import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { Plan } from '../accounts/account.entity.js';
import type { LedgerKind } from './ledger-entry.entity.js';
import { LedgerWriter } from './ledger.writer.js';
import type { Hold, UsageRecord } from './metering.types.js';

export interface AccountBalance {
  plan: Plan;
  balanceMicro: bigint;
  heldMicro: bigint;
  periodStart: Date;
  periodEnd: Date;
}

/**
 * Every money movement in SQL. A debit is one conditional UPDATE inside the transaction that records it; the
 * balance column moves only together with a ledger insert, so it always equals the ledger's sum.
 */
@Injectable()
export class BillingRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ledger: LedgerWriter,
  ) {}

  /**
   * Holds `amount` for a request. Free plans need the available balance (balance − open holds) to cover it;
   * paid plans always pass (what goes past the allocation is overage). Returns null when refused.
   */
  async hold(
    accountId: string,
    requestId: string,
    amount: bigint,
    allowOverage: boolean,
  ): Promise<Hold | null> {
    return this.dataSource.transaction(async (m) => {
      const rows = (await m.query(
        `UPDATE accounts SET held_micro = held_micro + $2
          WHERE id = $1 AND ($3 OR balance_micro - held_micro >= $2)
          RETURNING id`,
        [accountId, amount.toString(), allowOverage],
      )) as [Array<{ id: string }>, number];
      if (rowsOf(rows).length === 0) {
        return null;
      }
      const inserted = (await m.query(
        `INSERT INTO credit_holds (account_id, request_id, amount_micro) VALUES ($1, $2, $3) RETURNING id`,
        [accountId, requestId, amount.toString()],
      )) as Array<{ id: string }>;
      return { id: inserted[0].id, accountId, amountMicro: amount };
    });
  }

  /**
   * One transaction: the usage event, the usage ledger entry (when it cost something, live keys only), the
   * balance debit, and the hold's release. Idempotent by request id: a second settle of the same request
   * writes nothing. Returns the balance after it.
   */
  async settle(hold: Hold | null, record: UsageRecord): Promise<bigint> {
    return this.dataSource.transaction(async (m) => {
      const inserted = (await m.query(
        `INSERT INTO usage_events (request_id, account_id, key_id, test, model_requested, model_served, provider,
            status, http_status, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_micro,
            price_version, latency_ms, ttft_ms, streamed, attempts, estimated, error_code)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21)
         ON CONFLICT (request_id) DO NOTHING
         RETURNING id`,
        [
          record.requestId,
          record.accountId,
          record.keyId,
          record.test,
          record.modelRequested,
          record.modelServed,
          record.provider,
          record.status,
          record.httpStatus,
          record.promptTokens,
          record.completionTokens,
          record.cachedTokens,
          record.reasoningTokens,
          record.costMicro.toString(),
          record.priceVersion,
          record.latencyMs,
          record.ttftMs,
          record.streamed,
          record.attempts,
          record.estimated,
          record.errorCode,
        ],
      )) as Array<{ id: string }>;
      const firstTime = inserted.length > 0;
      if (firstTime && record.keyId && record.modelServed) {
        await m.query(
          `INSERT INTO usage_hourly (account_id, hour, key_id, model, test, requests, prompt_tokens, completion_tokens, cost_micro)
           VALUES ($1, date_trunc('hour', now()), $2, $3, $4, 1, $5, $6, $7)
           ON CONFLICT (account_id, hour, key_id, model, test) DO UPDATE SET
             requests = usage_hourly.requests + 1,
             prompt_tokens = usage_hourly.prompt_tokens + EXCLUDED.prompt_tokens,
             completion_tokens = usage_hourly.completion_tokens + EXCLUDED.completion_tokens,
             cost_micro = usage_hourly.cost_micro + EXCLUDED.cost_micro`,
          [
            record.accountId,
            record.keyId,
            record.modelServed,
            record.test,
            record.promptTokens,
            record.completionTokens,
            record.costMicro.toString(),
          ],
        );
      }
      const cost = firstTime && !record.test ? record.costMicro : 0n;
      if (cost > 0n) {
        await this.ledger.append(m, {
          accountId: record.accountId,
          kind: 'usage',
          amountMicro: -cost,
          reference: `usage:${record.requestId}`,
          note: record.modelServed,
        });
      }
      const released = hold ? await this.releaseHold(m, hold.id) : 0n;
      const rows = rowsOf(
        (await m.query(
          `UPDATE accounts SET balance_micro = balance_micro - $2, held_micro = held_micro - $3
            WHERE id = $1 RETURNING balance_micro`,
          [record.accountId, cost.toString(), released.toString()],
        )) as unknown,
      ) as Array<{ balance_micro: string }>;
      return BigInt(rows[0].balance_micro);
    });
  }

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
            WHERE period_end <= $1 AND status <> 'pending_deletion'
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

  /** Releases holds older than `before` (left by a crashed instance). */
  async sweepHolds(before: Date): Promise<number> {
    return this.dataSource.transaction(async (m) => {
      const rows = (await m.query(
        `DELETE FROM credit_holds WHERE created_at < $1 RETURNING account_id, amount_micro`,
        [before],
      )) as unknown;
      const released = rowsOf(rows) as Array<{ account_id: string; amount_micro: string }>;
      for (const row of released) {
        await m.query(`UPDATE accounts SET held_micro = held_micro - $2 WHERE id = $1`, [
          row.account_id,
          row.amount_micro,
        ]);
      }
      return released.length;
    });
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

  private async releaseHold(m: EntityManager, holdId: string): Promise<bigint> {
    const rows = rowsOf(
      (await m.query(`DELETE FROM credit_holds WHERE id = $1 RETURNING amount_micro`, [holdId])) as unknown,
    ) as Array<{ amount_micro: string }>;
    return rows.length > 0 ? BigInt(rows[0].amount_micro) : 0n;
  }
}

/** TypeORM's postgres driver returns [rows, count] for UPDATE/DELETE … RETURNING, and rows for SELECT/INSERT. */
function rowsOf(result: unknown): unknown[] {
  if (
    Array.isArray(result) &&
    result.length === 2 &&
    Array.isArray(result[0]) &&
    typeof result[1] === 'number'
  ) {
    return result[0] as unknown[];
  }
  return result as unknown[];
}
