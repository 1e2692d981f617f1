import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Accounts, API keys and the credit ledger (the signup grant is recorded from day one). */
export class Foundation1764060000000 implements MigrationInterface {
  name = 'Foundation1764060000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE accounts (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email text NOT NULL,
        password_hash text NOT NULL,
        role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'support', 'admin')),
        plan text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'power', 'pro')),
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'pending_deletion')),
        balance_micro bigint NOT NULL DEFAULT 0,
        stripe_customer_id text,
        stripe_subscription_id text,
        period_start timestamptz NOT NULL DEFAULT now(),
        period_end timestamptz NOT NULL DEFAULT (now() + interval '1 month'),
        created_at timestamptz NOT NULL DEFAULT now(),
        deletion_requested_at timestamptz
      )`);
    await q.query(`CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email))`);

    await q.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        public_id text NOT NULL UNIQUE,
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        kind text NOT NULL CHECK (kind IN ('live', 'test')),
        name text NOT NULL,
        display_prefix text NOT NULL,
        last4 text NOT NULL,
        sha256 char(64) NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz,
        revoked_at timestamptz,
        last_used_at timestamptz
      )`);
    await q.query(`CREATE INDEX api_keys_account_idx ON api_keys (account_id, created_at)`);

    await q.query(`
      CREATE TABLE credit_ledger (
        id bigserial PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        kind text NOT NULL CHECK (kind IN ('grant', 'usage', 'adjustment', 'reset', 'refund')),
        amount_micro bigint NOT NULL,
        reference text NOT NULL UNIQUE,
        note text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX credit_ledger_account_idx ON credit_ledger (account_id, created_at)`);
    // Append-only: the ledger is history, never edited.
    await q.query(`
      CREATE FUNCTION credit_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'credit_ledger is append-only';
      END $$`);
    await q.query(`
      CREATE TRIGGER credit_ledger_no_update BEFORE UPDATE ON credit_ledger
      FOR EACH ROW EXECUTE FUNCTION credit_ledger_append_only()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE credit_ledger`);
    await q.query(`DROP FUNCTION credit_ledger_append_only`);
    await q.query(`DROP TABLE api_keys`);
    await q.query(`DROP TABLE accounts`);
  }
}
