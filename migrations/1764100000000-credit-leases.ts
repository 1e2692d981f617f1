import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The money path without a row lock per request: an instance leases a block of an account's available credit
 * (`credit_leases`) and admits requests against it in memory; settlements are written in batches. Per-request
 * holds (`credit_holds`) go: what they still set aside is released first. `held_micro` is from now on the sum of
 * the account's leases.
 *
 * The tables updated by every settlement batch keep free room in each page (fillfactor), so their updates stay
 * HOT (no index churn), and are vacuumed early, so throughput does not decay with dead rows.
 */
export class CreditLeases1764100000000 implements MigrationInterface {
  name = 'CreditLeases1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE credit_leases (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        instance_id text NOT NULL,
        amount_micro bigint NOT NULL CHECK (amount_micro >= 0),
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (account_id, instance_id)
      )`);
    await q.query(`CREATE INDEX credit_leases_expires_idx ON credit_leases (expires_at)`);
    await q.query(`
      UPDATE accounts a SET held_micro = a.held_micro - h.total
        FROM (SELECT account_id, sum(amount_micro) AS total FROM credit_holds GROUP BY account_id) h
       WHERE a.id = h.account_id`);
    await q.query(`DROP TABLE credit_holds`);
    await q.query(SETTLE_FUNCTION);
    for (const [table, fillfactor] of [
      ['accounts', 70],
      ['credit_leases', 50],
      ['usage_hourly', 80],
    ] as const) {
      await q.query(
        `ALTER TABLE ${table} SET (fillfactor = ${fillfactor}, autovacuum_vacuum_scale_factor = 0.01,
           autovacuum_vacuum_threshold = 500, autovacuum_analyze_scale_factor = 0.05)`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION conflux_settle(jsonb)`);
    for (const table of ['accounts', 'usage_hourly']) {
      await q.query(
        `ALTER TABLE ${table} RESET (fillfactor, autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
           autovacuum_analyze_scale_factor)`,
      );
    }
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
      UPDATE accounts a SET held_micro = a.held_micro - l.total
        FROM (SELECT account_id, sum(amount_micro) AS total FROM credit_leases GROUP BY account_id) l
       WHERE a.id = l.account_id`);
    await q.query(`DROP TABLE credit_leases`);
  }
}

/**
 * One settlement batch in one round trip and one transaction: the usage events of every request in `batch` (a
 * JSON array, one object per request), their hourly rollups, the usage ledger entries (and the write-off of what
 * a Free plan request cost beyond its hold: `charge_micro` < `cost_micro`), the release of what their holds took
 * from their instance's lease, and one balance/held change per account. Returns each live account's
 * balance after it.
 *
 * Idempotent by request id: a request whose usage event exists already (a batch retried after a lost answer, an
 * outbox replayed after a crash) changes nothing. Accounts are locked in id order first, so batches of several
 * instances wait for each other instead of deadlocking.
 */
const SETTLE_FUNCTION = `
CREATE FUNCTION conflux_settle(batch jsonb) RETURNS TABLE (account_id uuid, balance_micro bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  fresh text[];
  charged_accounts uuid[];
  charged_amounts bigint[];
  released_accounts uuid[];
  released_amounts bigint[];
BEGIN
  PERFORM 1 FROM accounts a
   WHERE a.id IN (SELECT r.account_id FROM jsonb_to_recordset(batch) AS r(account_id uuid, test boolean) WHERE NOT r.test)
   ORDER BY a.id FOR UPDATE;

  WITH ev AS (
    INSERT INTO usage_events (request_id, account_id, key_id, test, model_requested, model_served, provider, status,
        http_status, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_micro, price_version,
        latency_ms, ttft_ms, streamed, attempts, estimated, error_code, created_at)
    SELECT r.request_id, r.account_id, r.key_id, r.test, r.model_requested, r.model_served, r.provider, r.status,
           r.http_status, r.prompt_tokens, r.completion_tokens, r.cached_tokens, r.reasoning_tokens, r.cost_micro,
           r.price_version, r.latency_ms, r.ttft_ms, r.streamed, r.attempts, r.estimated, r.error_code, r.created_at
      FROM jsonb_to_recordset(batch) AS r(request_id text, account_id uuid, key_id uuid, test boolean,
           model_requested text, model_served text, provider text, status text, http_status integer,
           prompt_tokens integer, completion_tokens integer, cached_tokens integer, reasoning_tokens integer,
           cost_micro bigint, price_version text, latency_ms integer, ttft_ms integer, streamed boolean,
           attempts integer, estimated boolean, error_code text, created_at timestamptz)
    ON CONFLICT (request_id) DO NOTHING
    RETURNING usage_events.request_id)
  SELECT coalesce(array_agg(ev.request_id), '{}') INTO fresh FROM ev;

  INSERT INTO usage_hourly AS h (account_id, hour, key_id, model, test, requests, prompt_tokens, completion_tokens,
      cost_micro)
  SELECT r.account_id, date_trunc('hour', r.created_at), r.key_id, r.model_served, r.test, count(*),
         sum(r.prompt_tokens), sum(r.completion_tokens), sum(r.cost_micro)
    FROM jsonb_to_recordset(batch) AS r(request_id text, account_id uuid, key_id uuid, model_served text,
         test boolean, prompt_tokens integer, completion_tokens integer, cost_micro bigint, created_at timestamptz)
   WHERE r.request_id = ANY (fresh) AND r.key_id IS NOT NULL AND r.model_served IS NOT NULL
   GROUP BY 1, 2, 3, 4, 5
  ON CONFLICT (account_id, hour, key_id, model, test) DO UPDATE SET
    requests = h.requests + EXCLUDED.requests,
    prompt_tokens = h.prompt_tokens + EXCLUDED.prompt_tokens,
    completion_tokens = h.completion_tokens + EXCLUDED.completion_tokens,
    cost_micro = h.cost_micro + EXCLUDED.cost_micro;

  WITH led AS (
    INSERT INTO credit_ledger (account_id, kind, amount_micro, reference, note)
    SELECT r.account_id, e.kind, e.amount, e.reference, e.note
      FROM jsonb_to_recordset(batch) AS r(request_id text, account_id uuid, test boolean, model_served text,
           cost_micro bigint, charge_micro bigint)
     CROSS JOIN LATERAL (VALUES
       ('usage', -r.cost_micro, 'usage:' || r.request_id, r.model_served),
       ('adjustment', r.cost_micro - r.charge_micro, 'writeoff:' || r.request_id,
        'written off: counted beyond the hold of a Free plan request')) AS e(kind, amount, reference, note)
     WHERE r.request_id = ANY (fresh) AND NOT r.test AND e.amount <> 0
    ON CONFLICT (reference) DO NOTHING
    RETURNING credit_ledger.account_id, credit_ledger.amount_micro),
  per_account AS (SELECT led.account_id, sum(led.amount_micro)::bigint AS amount FROM led GROUP BY led.account_id)
  SELECT array_agg(p.account_id), array_agg(p.amount) INTO charged_accounts, charged_amounts FROM per_account p;

  WITH wanted AS (
    SELECT r.lease_id, sum(r.release_micro) AS amount
      FROM jsonb_to_recordset(batch) AS r(request_id text, lease_id uuid, release_micro bigint)
     WHERE r.request_id = ANY (fresh) AND r.lease_id IS NOT NULL AND r.release_micro > 0
     GROUP BY r.lease_id),
  cut AS (
    SELECT l.id, l.account_id, LEAST(l.amount_micro, w.amount) AS released
      FROM credit_leases l JOIN wanted w ON w.lease_id = l.id),
  upd AS (
    UPDATE credit_leases l SET amount_micro = l.amount_micro - cut.released FROM cut WHERE l.id = cut.id
    RETURNING cut.account_id, cut.released),
  per_account AS (SELECT upd.account_id, sum(upd.released)::bigint AS amount FROM upd GROUP BY upd.account_id)
  SELECT array_agg(p.account_id), array_agg(p.amount) INTO released_accounts, released_amounts FROM per_account p;

  RETURN QUERY
  WITH live AS (
    SELECT DISTINCT r.account_id AS id
      FROM jsonb_to_recordset(batch) AS r(account_id uuid, test boolean) WHERE NOT r.test),
  charged AS (SELECT * FROM unnest(charged_accounts, charged_amounts) AS c(id, amount)),
  released AS (SELECT * FROM unnest(released_accounts, released_amounts) AS c(id, amount)),
  delta AS (
    SELECT live.id, coalesce(charged.amount, 0) AS charge, coalesce(released.amount, 0) AS released
      FROM live LEFT JOIN charged ON charged.id = live.id LEFT JOIN released ON released.id = live.id)
  UPDATE accounts a SET balance_micro = a.balance_micro + delta.charge, held_micro = a.held_micro - delta.released
    FROM delta WHERE a.id = delta.id
  RETURNING a.id, a.balance_micro;
END
$fn$`;
