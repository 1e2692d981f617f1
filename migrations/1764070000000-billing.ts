import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Credit holds, usage events (metadata only) with hourly rollups, and idempotency records. */
export class Billing1764070000000 implements MigrationInterface {
  name = 'Billing1764070000000';

  async up(q: QueryRunner): Promise<void> {
    // balance_micro is always the sum of the ledger; held_micro the sum of open holds.
    await q.query(
      `ALTER TABLE accounts ADD COLUMN held_micro bigint NOT NULL DEFAULT 0 CHECK (held_micro >= 0)`,
    );

    await q.query(`
      CREATE TABLE credit_holds (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        request_id text NOT NULL,
        amount_micro bigint NOT NULL CHECK (amount_micro >= 0),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX credit_holds_created_idx ON credit_holds (created_at)`);

    await q.query(`
      CREATE TABLE usage_events (
        id bigserial PRIMARY KEY,
        request_id text NOT NULL UNIQUE,
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        key_id uuid REFERENCES api_keys(id) ON DELETE SET NULL,
        test boolean NOT NULL,
        model_requested text NOT NULL,
        model_served text,
        provider text,
        status text NOT NULL CHECK (status IN ('completed', 'aborted', 'cut', 'failed')),
        http_status integer NOT NULL,
        prompt_tokens integer NOT NULL,
        completion_tokens integer NOT NULL,
        cached_tokens integer NOT NULL,
        reasoning_tokens integer NOT NULL,
        cost_micro bigint NOT NULL CHECK (cost_micro >= 0),
        price_version text,
        latency_ms integer NOT NULL,
        ttft_ms integer,
        streamed boolean NOT NULL,
        attempts integer NOT NULL,
        estimated boolean NOT NULL,
        error_code text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX usage_events_account_idx ON usage_events (account_id, created_at)`);

    await q.query(`
      CREATE TABLE usage_hourly (
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        hour timestamptz NOT NULL,
        key_id uuid NOT NULL,
        model text NOT NULL,
        test boolean NOT NULL,
        requests integer NOT NULL,
        prompt_tokens bigint NOT NULL,
        completion_tokens bigint NOT NULL,
        cost_micro bigint NOT NULL,
        PRIMARY KEY (account_id, hour, key_id, model, test)
      )`);

    await q.query(`
      CREATE TABLE idempotency_records (
        lookup char(64) PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        state text NOT NULL CHECK (state IN ('in_flight', 'completed')),
        sealed bytea,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX idempotency_records_expires_idx ON idempotency_records (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE idempotency_records`);
    await q.query(`DROP TABLE usage_hourly`);
    await q.query(`DROP TABLE usage_events`);
    await q.query(`DROP TABLE credit_holds`);
    await q.query(`ALTER TABLE accounts DROP COLUMN held_micro`);
  }
}
