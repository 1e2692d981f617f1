import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The read side of usage at scale.
 *
 * - `usage_events` becomes a table partitioned by month (declarative partitioning, `created_at` ranges). Rows of a
 *   month with no partition yet land in `usage_events_default`; `conflux_usage_partition(month)` creates a month's
 *   partition (moving what the default holds of it), and the scheduled `UsagePartitions` job calls it for the
 *   current and next months ahead of time. Old months are dropped a partition at a time
 *   (`conflux_usage_drop_before`), the rollups are kept.
 *   The primary key and the request id's uniqueness include `created_at` (a partitioned table's unique
 *   constraints must): a replayed settlement carries the same `created_at` (fixed when the request ended), so
 *   `ON CONFLICT (request_id, created_at)` keeps settlement idempotent.
 * - `usage_rollups`: hourly aggregates per key, model, provider, live/test and ok/error, with a latency
 *   histogram, written by the settlement batch in the same transaction as the events. Grouped reads of
 *   `GET /v1/usage` use them for whole hours and read raw events only for the partial hours at the edges.
 * - An index for newest-first keyset pages of one account's events.
 */
export class UsageRead1764120000000 implements MigrationInterface {
  name = 'UsageRead1764120000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(BUCKET_FUNCTION);
    await q.query(`
      CREATE TABLE usage_events_partitioned (
        id bigint NOT NULL,
        request_id text NOT NULL,
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
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (id, created_at),
        UNIQUE (request_id, created_at)
      ) PARTITION BY RANGE (created_at)`);
    await q.query(`CREATE TABLE usage_events_default PARTITION OF usage_events_partitioned DEFAULT`);
    await q.query(`INSERT INTO usage_events_partitioned SELECT
        id, request_id, account_id, key_id, test, model_requested, model_served, provider, status, http_status,
        prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_micro, price_version, latency_ms,
        ttft_ms, streamed, attempts, estimated, error_code, created_at FROM usage_events`);
    // The id sequence survives the old table: it moves to the new one.
    await q.query(`ALTER SEQUENCE usage_events_id_seq OWNED BY NONE`);
    await q.query(`DROP TABLE usage_events`);
    await q.query(`ALTER TABLE usage_events_partitioned RENAME TO usage_events`);
    await q.query(`ALTER TABLE usage_events ALTER COLUMN id SET DEFAULT nextval('usage_events_id_seq')`);
    await q.query(`ALTER SEQUENCE usage_events_id_seq OWNED BY usage_events.id`);
    await q.query(`CREATE INDEX usage_events_account_page_idx ON usage_events (account_id, created_at, id)`);
    await q.query(PARTITION_FUNCTION);
    await q.query(DROP_FUNCTION);
    // The months that already hold events, and the current and next ones.
    await q.query(`
      SELECT conflux_usage_partition(m::date) FROM (
        SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC') AS m FROM usage_events_default
        UNION SELECT date_trunc('month', now() AT TIME ZONE 'UTC')
        UNION SELECT date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month') months ORDER BY m`);

    await q.query(`
      CREATE TABLE usage_rollups (
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        hour timestamptz NOT NULL,
        key_id uuid NOT NULL,
        model text NOT NULL,
        provider text NOT NULL,
        test boolean NOT NULL,
        ok boolean NOT NULL,
        requests integer NOT NULL,
        prompt_tokens bigint NOT NULL,
        completion_tokens bigint NOT NULL,
        cached_tokens bigint NOT NULL,
        cost_micro bigint NOT NULL,
        ${L.map((l) => `${l} integer NOT NULL DEFAULT 0`).join(', ')},
        PRIMARY KEY (account_id, hour, key_id, model, provider, test, ok)
      )`);
    await q.query(`
      ALTER TABLE usage_rollups SET (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.01,
        autovacuum_vacuum_threshold = 500, autovacuum_analyze_scale_factor = 0.05)`);
    await q.query(`
      INSERT INTO usage_rollups (account_id, hour, key_id, model, provider, test, ok, requests, prompt_tokens,
          completion_tokens, cached_tokens, cost_micro, ${L.join(', ')})
      SELECT account_id, date_trunc('hour', created_at, 'UTC'), key_id, coalesce(model_served, model_requested),
             coalesce(provider, ''), test, status IN ('completed', 'aborted'), count(*), sum(prompt_tokens),
             sum(completion_tokens), sum(cached_tokens), sum(cost_micro), ${bucketCounts('lb.b')}
        FROM usage_events CROSS JOIN LATERAL (SELECT conflux_latency_bucket(latency_ms) AS b) lb
       WHERE key_id IS NOT NULL
       GROUP BY 1, 2, 3, 4, 5, 6, 7`);
    await q.query(settleFunction('CREATE OR REPLACE'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION conflux_settle(jsonb)`);
    await q.query(PREVIOUS_SETTLE_FUNCTION);
    await q.query(`DROP TABLE usage_rollups`);
    await q.query(`DROP FUNCTION conflux_usage_drop_before(timestamptz)`);
    await q.query(`DROP FUNCTION conflux_usage_partition(date)`);
    await q.query(`
      CREATE TABLE usage_events_plain (
        id bigint PRIMARY KEY DEFAULT nextval('usage_events_id_seq'),
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
    await q.query(`INSERT INTO usage_events_plain SELECT * FROM usage_events`);
    await q.query(`ALTER SEQUENCE usage_events_id_seq OWNED BY NONE`);
    await q.query(`DROP TABLE usage_events`);
    await q.query(`ALTER TABLE usage_events_plain RENAME TO usage_events`);
    await q.query(`ALTER SEQUENCE usage_events_id_seq OWNED BY usage_events.id`);
    await q.query(`CREATE INDEX usage_events_account_idx ON usage_events (account_id, created_at)`);
    await q.query(`DROP FUNCTION conflux_latency_bucket(integer)`);
  }
}

/**
 * Latency histograms, one integer column per bucket (`l00`…`l63`) so that merging them is plain `sum()`s: bucket 0
 * for under 1 ms, bucket b (1..63) for [2^((b-1)/3), 2^(b/3)) ms (the last one open-ended, from about 27
 * minutes). Each bucket is about 26 % wide, so a percentile read from them is its bucket's upper bound: at most
 * 26 % above the exact value. `src/usage/latency.ts` reads them.
 */
const LATENCY_BUCKETS = 64;
const L = Array.from({ length: LATENCY_BUCKETS }, (_, b) => `l${String(b).padStart(2, '0')}`);

const BUCKET_FUNCTION = `
CREATE FUNCTION conflux_latency_bucket(ms integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT CASE WHEN ms < 1 THEN 0 ELSE least(${LATENCY_BUCKETS - 1}, floor(3 * log(2, ms::numeric))::integer + 1) END
$fn$`;

/** The bucket counts of a group of events (`bucket` names their bucket, computed once per event). */
function bucketCounts(bucket: string): string {
  return L.map((_, b) => `count(*) FILTER (WHERE ${bucket} = ${b})`).join(', ');
}

/**
 * Creates the partition of `usage_events` for the month starting at `month` (a first of the month, UTC) unless
 * it exists; rows of that month waiting in the default partition move into it. Returns true when it created it.
 */
const PARTITION_FUNCTION = `
CREATE FUNCTION conflux_usage_partition(month date) RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
  lo timestamptz := (date_trunc('month', month::timestamp) AT TIME ZONE 'UTC');
  hi timestamptz := ((date_trunc('month', month::timestamp) + interval '1 month') AT TIME ZONE 'UTC');
  name text := 'usage_events_' || to_char(month, 'YYYY_MM');
BEGIN
  -- Instances creating the same month at once wait for each other.
  PERFORM pg_advisory_xact_lock(hashtext('conflux_usage_partition'));
  IF to_regclass(name) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE usage_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
  EXECUTE format('WITH moved AS (DELETE FROM usage_events_default WHERE created_at >= $1 AND created_at < $2 RETURNING *)
                  INSERT INTO %I SELECT * FROM moved', name) USING lo, hi;
  EXECUTE format('ALTER TABLE usage_events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
  RETURN true;
END
$fn$`;

/** Drops the monthly partitions that end at or before \`cutoff\` and the default partition's rows before it. */
const DROP_FUNCTION = `
CREATE FUNCTION conflux_usage_drop_before(cutoff timestamptz) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
  part record;
  dropped integer := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('conflux_usage_partition'));
  FOR part IN
    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'usage_events'::regclass AND c.relname ~ '^usage_events_[0-9]{4}_[0-9]{2}$'
       AND ((to_date(substr(c.relname, 14), 'YYYY_MM') + interval '1 month')::timestamp AT TIME ZONE 'UTC') <= cutoff
  LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I', part.name);
    dropped := dropped + 1;
  END LOOP;
  DELETE FROM usage_events_default WHERE created_at < cutoff;
  RETURN dropped;
END
$fn$`;

/**
 * The settlement batch of `1764100000000-credit-leases.ts`, its events' conflict target and rollups updated.
 * `more` is SQL run after the ledger and the lease releases, before the balances are returned (later migrations
 * add to the batch with it; this migration passes nothing).
 */
export function settleFunction(verb: 'CREATE' | 'CREATE OR REPLACE', rollups = true, more = ''): string {
  return `
${verb} FUNCTION conflux_settle(batch jsonb) RETURNS TABLE (account_id uuid, balance_micro bigint)
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
    ON CONFLICT (${rollups ? 'request_id, created_at' : 'request_id'}) DO NOTHING
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
${rollups ? ROLLUP_UPSERT : ''}
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
${more}
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
}

/** The rollups of the batch's fresh events, grouped first: one upsert touches each rollup row once. */
const ROLLUP_UPSERT = `
  INSERT INTO usage_rollups AS u (account_id, hour, key_id, model, provider, test, ok, requests, prompt_tokens,
      completion_tokens, cached_tokens, cost_micro, ${L.join(', ')})
  SELECT r.account_id, date_trunc('hour', r.created_at, 'UTC'), r.key_id, coalesce(r.model_served, r.model_requested),
         coalesce(r.provider, ''), r.test, r.status IN ('completed', 'aborted'), count(*), sum(r.prompt_tokens),
         sum(r.completion_tokens), sum(r.cached_tokens), sum(r.cost_micro), ${bucketCounts('lb.b')}
    FROM jsonb_to_recordset(batch) AS r(request_id text, account_id uuid, key_id uuid, model_requested text,
         model_served text, provider text, test boolean, status text, prompt_tokens integer, completion_tokens integer,
         cached_tokens integer, cost_micro bigint, latency_ms integer, created_at timestamptz)
   CROSS JOIN LATERAL (SELECT conflux_latency_bucket(r.latency_ms) AS b) lb
   WHERE r.request_id = ANY (fresh) AND r.key_id IS NOT NULL
   GROUP BY 1, 2, 3, 4, 5, 6, 7
  ON CONFLICT (account_id, hour, key_id, model, provider, test, ok) DO UPDATE SET
    requests = u.requests + EXCLUDED.requests,
    prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens,
    completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens,
    cached_tokens = u.cached_tokens + EXCLUDED.cached_tokens,
    cost_micro = u.cost_micro + EXCLUDED.cost_micro,
    ${L.map((l) => `${l} = u.${l} + EXCLUDED.${l}`).join(',\n    ')};
`;

const PREVIOUS_SETTLE_FUNCTION = settleFunction('CREATE', false);
