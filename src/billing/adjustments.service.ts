import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { Plan } from '../accounts/account.entity.js';
import { formatCredits, MICRO_PER_CREDIT } from '../catalog/credits.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import type { LedgerKind } from './ledger-entry.entity.js';
import { LedgerWriter } from './ledger.writer.js';
import { includedMicro } from './plans.js';
import { rowsOf } from './sql.js';

export interface LedgerEntryView {
  id: string;
  object: 'ledger_entry';
  kind: LedgerKind;
  /** Signed, in credits (exact decimal). */
  credits: string;
  reference: string;
  note: string | null;
  created_at: string;
}

export interface AdjustmentResult {
  /** False when the reference was applied before (a retry): nothing was written this time. */
  applied: boolean;
  entry: LedgerEntryView;
  /** The balance after the adjustment, in credits. */
  balance: string;
}

export interface Adjustment {
  accountId: string;
  amountMicro: bigint;
  /** Unique per adjustment: the same reference is applied once. */
  reference: string;
  note: string;
  /** Allows a Free account's balance to go below zero. */
  force: boolean;
}

export interface PlanChange {
  before: Plan;
  after: Plan;
  /** The allocation moved with the plan (0 when the plan did not change). */
  deltaMicro: bigint;
}

/** The rule that gives a plan change its credits, documented in the README (support runbook). */
export function planChangeDelta(from: Plan, to: Plan, balanceMicro: bigint): bigint {
  const delta = includedMicro(to) - includedMicro(from);
  // A downgrade takes back the allocation it no longer includes, but never what the account paid for or was
  // granted beyond it, and never below zero.
  return delta < 0n && balanceMicro + delta < 0n ? (balanceMicro > 0n ? -balanceMicro : 0n) : delta;
}

/**
 * What support staff do to an account's money, through billing (the only writer of the ledger and balances):
 * adjustments (grants and deductions), plan changes without Stripe, the ledger read, and forgetting an account's
 * usage at its purge. Each write takes the account row's lock, so it is one conditional step, never
 * read-then-write against concurrent settlements.
 */
@Injectable()
export class AdjustmentsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ledger: LedgerWriter,
  ) {}

  /**
   * Posts an `adjustment` entry and moves the balance. A retry with the same reference writes nothing and answers
   * the entry of the first (`applied: false`); the same reference with another amount is refused. `within` runs
   * in the same transaction when the entry is written (the audit record).
   */
  async adjust(
    input: Adjustment,
    within?: (m: EntityManager, result: AdjustmentResult) => Promise<void>,
  ): Promise<AdjustmentResult> {
    return this.dataSource.transaction(async (m) => {
      const account = await this.lockAccount(m, input.accountId);
      const previous = await this.entryByReference(m, input.reference);
      if (previous) {
        if (previous.credits !== formatCredits(input.amountMicro) || previous.kind !== 'adjustment') {
          throw new GatewayError(
            ErrorCode.InvalidRequest,
            'This Idempotency-Key was already used with a different adjustment.',
            { param: 'Idempotency-Key', code: 'idempotency_key_reused' },
          );
        }
        return { applied: false, entry: previous, balance: formatCredits(account.balanceMicro) };
      }
      const after = account.balanceMicro + input.amountMicro;
      if (input.amountMicro < 0n && after < 0n && account.plan === 'free' && !input.force) {
        throw new GatewayError(
          ErrorCode.InvalidRequest,
          `This deduction would take the Free account's balance below zero (${formatCredits(after)} credits). ` +
            'Send "force": true to deduct anyway.',
          { param: 'credits', code: 'balance_below_zero' },
        );
      }
      await this.ledger.post(m, {
        accountId: input.accountId,
        kind: 'adjustment',
        amountMicro: input.amountMicro,
        reference: input.reference,
        note: input.note,
      });
      const entry = (await this.entryByReference(m, input.reference))!;
      const result = { applied: true, entry, balance: formatCredits(after) };
      await within?.(m, result);
      return result;
    });
  }

  /**
   * Changes the plan without Stripe. The billing period is kept; the balance moves by the difference of the two
   * allocations (`planChangeDelta`), as an `adjustment` entry. The same plan is a no-op.
   */
  async changePlan(
    accountId: string,
    plan: Plan,
    reference: string,
    note: string,
    within?: (m: EntityManager, change: PlanChange) => Promise<void>,
  ): Promise<PlanChange> {
    return this.dataSource.transaction(async (m) => {
      const account = await this.lockAccount(m, accountId);
      if (account.plan === plan) {
        return { before: plan, after: plan, deltaMicro: 0n };
      }
      const deltaMicro = planChangeDelta(account.plan, plan, account.balanceMicro);
      await m.query(`UPDATE accounts SET plan = $2 WHERE id = $1`, [accountId, plan]);
      if (deltaMicro !== 0n) {
        await this.ledger.post(m, {
          accountId,
          kind: 'adjustment',
          amountMicro: deltaMicro,
          reference,
          note,
        });
      }
      const change = { before: account.plan, after: plan, deltaMicro };
      await within?.(m, change);
      return change;
    });
  }

  /** The account's ledger, newest first; `before` is the id of the last entry of the previous page. */
  async ledgerPage(accountId: string, limit: number, before?: string): Promise<LedgerEntryView[]> {
    const rows = (await this.dataSource.query(
      `SELECT id::text AS id, kind, amount_micro::text AS amount, reference, note, created_at
         FROM credit_ledger
        WHERE account_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint)
        ORDER BY id DESC LIMIT $3`,
      [accountId, before ?? null, limit],
    )) as LedgerRow[];
    return rows.map(toView);
  }

  /**
   * Erases what the account's usage says about it (events, hourly and daily rollups and histograms, stored idempotent answers, leases) at
   * its purge, in the caller's transaction. The ledger stays: it is the financial record.
   */
  async forgetUsage(m: EntityManager, accountId: string): Promise<void> {
    await m.query(`DELETE FROM usage_events WHERE account_id = $1`, [accountId]);
    await m.query(`DELETE FROM usage_rollups WHERE account_id = $1`, [accountId]);
    await m.query(`DELETE FROM usage_rollups_daily WHERE account_id = $1`, [accountId]);
    await m.query(`DELETE FROM idempotency_records WHERE account_id = $1`, [accountId]);
    // What leases still held goes back with them: held stays the sum of the leases.
    const released = rowsOf(
      await m.query(
        `DELETE FROM credit_leases WHERE account_id = $1 RETURNING amount_micro::text AS amount`,
        [accountId],
      ),
    ) as Array<{ amount: string }>;
    const total = released.reduce((sum, r) => sum + BigInt(r.amount), 0n);
    if (total > 0n) {
      await m.query(`UPDATE accounts SET held_micro = held_micro - $2 WHERE id = $1`, [
        accountId,
        total.toString(),
      ]);
    }
  }

  private async lockAccount(
    m: EntityManager,
    accountId: string,
  ): Promise<{ plan: Plan; balanceMicro: bigint }> {
    const rows = (await m.query(
      `SELECT plan, balance_micro::text AS balance FROM accounts WHERE id = $1 FOR UPDATE`,
      [accountId],
    )) as Array<{ plan: Plan; balance: string }>;
    if (rows.length === 0) {
      throw new GatewayError(ErrorCode.NotFound, `No account with id ${accountId}.`, { param: 'id' });
    }
    return { plan: rows[0].plan, balanceMicro: BigInt(rows[0].balance) };
  }

  private async entryByReference(m: EntityManager, reference: string): Promise<LedgerEntryView | null> {
    const rows = (await m.query(
      `SELECT id::text AS id, kind, amount_micro::text AS amount, reference, note, created_at
         FROM credit_ledger WHERE reference = $1`,
      [reference],
    )) as LedgerRow[];
    return rows.length > 0 ? toView(rows[0]) : null;
  }
}

interface LedgerRow {
  id: string;
  kind: LedgerKind;
  amount: string;
  reference: string;
  note: string | null;
  created_at: Date | string;
}

function toView(row: LedgerRow): LedgerEntryView {
  return {
    id: row.id,
    object: 'ledger_entry',
    kind: row.kind,
    credits: formatCredits(BigInt(row.amount)),
    reference: row.reference,
    note: row.note,
    created_at: new Date(row.created_at).toISOString(),
  };
}

/** "250", "-12.5", "0.000001" → µcr; null when it is not a decimal with at most 6 places. */
export function parseCredits(text: string): bigint | null {
  const match = /^([+-]?)(\d{1,12})(?:\.(\d{1,6}))?$/.exec(text.trim());
  if (!match) {
    return null;
  }
  const micro = BigInt(match[2]) * MICRO_PER_CREDIT + BigInt((match[3] ?? '').padEnd(6, '0') || '0');
  return match[1] === '-' ? -micro : micro;
}
