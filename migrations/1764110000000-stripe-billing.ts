import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Paying through Stripe: the account's subscription state, the pack credits it bought (they outlive a period
 * reset), what of this period's overage was already queued for Stripe; the webhook events applied (one row per
 * Stripe event id, so each is applied once); the meter-event outbox (overage reports, written in the transaction
 * that decides them, sent until Stripe accepts them). Ledger entries gain the kinds `purchase` and `plan`.
 */
export class StripeBilling1764110000000 implements MigrationInterface {
  name = 'StripeBilling1764110000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE accounts ADD COLUMN subscription_status text`);
    await q.query(
      `ALTER TABLE accounts ADD COLUMN pending_plan text CHECK (pending_plan IN ('free', 'power', 'pro'))`,
    );
    await q.query(`ALTER TABLE accounts ADD COLUMN cancel_at_period_end boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE accounts ADD COLUMN past_due_since timestamptz`);
    await q.query(
      `ALTER TABLE accounts ADD COLUMN purchased_micro bigint NOT NULL DEFAULT 0 CHECK (purchased_micro >= 0)`,
    );
    await q.query(
      `ALTER TABLE accounts ADD COLUMN overage_reported_credits bigint NOT NULL DEFAULT 0
         CHECK (overage_reported_credits >= 0)`,
    );
    await q.query(
      `CREATE UNIQUE INDEX accounts_stripe_customer_key ON accounts (stripe_customer_id)
        WHERE stripe_customer_id IS NOT NULL`,
    );
    await q.query(`ALTER TABLE credit_ledger DROP CONSTRAINT credit_ledger_kind_check`);
    await q.query(
      `ALTER TABLE credit_ledger ADD CONSTRAINT credit_ledger_kind_check
         CHECK (kind IN ('grant', 'usage', 'adjustment', 'reset', 'refund', 'purchase', 'plan'))`,
    );

    await q.query(`
      CREATE TABLE stripe_events (
        id text PRIMARY KEY,
        type text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE meter_outbox (
        id bigserial PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        stripe_customer_id text NOT NULL,
        identifier text NOT NULL UNIQUE,
        value bigint NOT NULL CHECK (value > 0),
        event_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        claimed_until timestamptz,
        sent_at timestamptz,
        last_error text
      )`);
    await q.query(
      `CREATE INDEX meter_outbox_due_idx ON meter_outbox (next_attempt_at) WHERE sent_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE meter_outbox`);
    await q.query(`DROP TABLE stripe_events`);
    await q.query(`ALTER TABLE credit_ledger DROP CONSTRAINT credit_ledger_kind_check`);
    await q.query(
      `ALTER TABLE credit_ledger ADD CONSTRAINT credit_ledger_kind_check
         CHECK (kind IN ('grant', 'usage', 'adjustment', 'reset', 'refund'))`,
    );
    await q.query(`DROP INDEX accounts_stripe_customer_key`);
    for (const column of [
      'overage_reported_credits',
      'purchased_micro',
      'past_due_since',
      'cancel_at_period_end',
      'pending_plan',
      'subscription_status',
    ]) {
      await q.query(`ALTER TABLE accounts DROP COLUMN ${column}`);
    }
  }
}
