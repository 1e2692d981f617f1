import type { EntityManager } from 'typeorm';
import type { Plan } from '../accounts/account.entity.js';
import { MICRO_PER_CREDIT } from '../catalog/credits.js';
import type { LedgerWriter } from './ledger.writer.js';
import { includedMicro } from './plans.js';

/** An account's billing state, read under its row lock. */
export interface BillingRow {
  id: string;
  plan: Plan;
  balanceMicro: bigint;
  purchasedMicro: bigint;
  overageReportedCredits: bigint;
  periodStart: Date;
  periodEnd: Date;
  stripeCustomerId: string | null;
  stripeSubscriptionId: string | null;
  subscriptionStatus: string | null;
  pendingPlan: Plan | null;
  pastDueSince: Date | null;
}

/** Locks the account's row for the rest of the transaction and reads its billing state. */
export async function lockBillingRow(m: EntityManager, accountId: string): Promise<BillingRow | null> {
  const rows = (await m.query(
    `SELECT id, plan, balance_micro::text AS balance, purchased_micro::text AS purchased,
            overage_reported_credits::text AS reported, period_start, period_end, stripe_customer_id,
            stripe_subscription_id, subscription_status, pending_plan, past_due_since
       FROM accounts WHERE id = $1 FOR UPDATE`,
    [accountId],
  )) as Array<{
    id: string;
    plan: Plan;
    balance: string;
    purchased: string;
    reported: string;
    period_start: Date;
    period_end: Date;
    stripe_customer_id: string | null;
    stripe_subscription_id: string | null;
    subscription_status: string | null;
    pending_plan: Plan | null;
    past_due_since: Date | null;
  }>;
  const r = rows[0];
  return r
    ? {
        id: r.id,
        plan: r.plan,
        balanceMicro: BigInt(r.balance),
        purchasedMicro: BigInt(r.purchased),
        overageReportedCredits: BigInt(r.reported),
        periodStart: new Date(r.period_start),
        periodEnd: new Date(r.period_end),
        stripeCustomerId: r.stripe_customer_id,
        stripeSubscriptionId: r.stripe_subscription_id,
        subscriptionStatus: r.subscription_status,
        pendingPlan: r.pending_plan,
        pastDueSince: r.past_due_since ? new Date(r.past_due_since) : null,
      }
    : null;
}

/**
 * Pack credits not spent yet. The allocation is spent first, so of the balance, what exceeds nothing is
 * allocation until the balance falls below the purchased credits: those left are min(balance, purchased), ≥ 0.
 */
export function purchasedLeft(balance: bigint, purchased: bigint): bigint {
  if (balance <= 0n) {
    return 0n;
  }
  return balance < purchased ? balance : purchased;
}

/** Use past the allocation and the pack credits this period (paid plans only; Free stops at 402). */
export function overageMicro(plan: Plan, balance: bigint): bigint {
  return plan === 'free' || balance >= 0n ? 0n : -balance;
}

/**
 * Queues the overage not reported yet as one meter event in the outbox, in the caller's transaction (the account
 * row locked): whole credits, the fraction carried to the next report; the last report of a period (`final`)
 * rounds up. Its identifier names the account, the period and the running total it brings Stripe to, so it is
 * stable (a resend is recognised by Stripe) and never repeats for other usage.
 */
export async function queueOverage(
  m: EntityManager,
  row: BillingRow,
  final: boolean,
  now: Date,
): Promise<void> {
  if (row.plan === 'free' || !row.stripeCustomerId) {
    return;
  }
  const over = overageMicro(row.plan, row.balanceMicro);
  const whole = final ? (over + MICRO_PER_CREDIT - 1n) / MICRO_PER_CREDIT : over / MICRO_PER_CREDIT;
  if (whole <= row.overageReportedCredits) {
    return;
  }
  // The usage belongs to the period it was made in: the last report is stamped inside it.
  const lastSecond = new Date(row.periodEnd.getTime() - 1000);
  const at = final && now > lastSecond ? lastSecond : now;
  const periodStart = Math.floor(row.periodStart.getTime() / 1000);
  await m.query(
    `INSERT INTO meter_outbox (account_id, stripe_customer_id, identifier, value, event_at, next_attempt_at)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (identifier) DO NOTHING`,
    [
      row.id,
      row.stripeCustomerId,
      `overage_${row.id}_${periodStart}_${whole}`,
      (whole - row.overageReportedCredits).toString(),
      at,
      now,
    ],
  );
  await m.query(`UPDATE accounts SET overage_reported_credits = $2 WHERE id = $1`, [
    row.id,
    whole.toString(),
  ]);
  row.overageReportedCredits = whole;
}

/**
 * Whether the account holds its address's free grant (`free_grants`): the Free plan's monthly allocation goes only
 * to such accounts, so a second account on the same (normalised) address, or one not verified yet, does not collect
 * the free credits at its first reset that it was refused at sign-up.
 */
async function holdsFreeGrant(m: EntityManager, accountId: string): Promise<boolean> {
  const rows = (await m.query(`SELECT 1 FROM free_grants WHERE account_id = $1 LIMIT 1`, [
    accountId,
  ])) as unknown[];
  return rows.length > 0;
}

/**
 * Starts a billing period for the account on `plan`: the overage of the period that ends is reported (rounded
 * up), then a `reset` entry brings the balance to the plan's allocation plus the pack credits left (no rollover of
 * the allocation; packs are kept). On Free, the allocation is 0 for an account without the free grant. The reference names the period, so it happens once per period whatever
 * calls it and however often. False when that period had already started.
 */
export async function startPeriod(
  m: EntityManager,
  ledger: LedgerWriter,
  row: BillingRow,
  next: { plan: Plan; start: Date; end: Date; reference: string },
  now: Date,
): Promise<boolean> {
  const left = purchasedLeft(row.balanceMicro, row.purchasedMicro);
  const allocation =
    next.plan === 'free' && !(await holdsFreeGrant(m, row.id)) ? 0n : includedMicro(next.plan);
  const posted = await ledger.post(m, {
    accountId: row.id,
    kind: 'reset',
    amountMicro: allocation + left - row.balanceMicro,
    reference: next.reference,
    note: `${next.plan} allocation for a new period`,
  });
  if (!posted) {
    return false;
  }
  // Read before the reset: the balance it reports on is the ending period's.
  await queueOverage(m, row, true, now);
  await m.query(
    `UPDATE accounts SET plan = $2, period_start = $3, period_end = $4, purchased_micro = $5,
            overage_reported_credits = 0, pending_plan = NULL
      WHERE id = $1`,
    [row.id, next.plan, next.start, next.end, left.toString()],
  );
  return true;
}
