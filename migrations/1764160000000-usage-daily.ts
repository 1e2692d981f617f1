import type { MigrationInterface, QueryRunner } from 'typeorm';
import { BUCKET_FUNCTION } from './1764120000000-usage-read.js';
import { HOURLY_ROLLUP, settleFunctionWith } from './1764135000000-lighter-settlement.js';

/**
 * Grouped usage reads at a busy account's scale (issue #14's p95 ≤ 50 ms).
 *
 * - `usage_rollups_daily`: the hourly rollups summed per UTC day, same dimensions and latency histogram. A read
 *   spanning whole days takes them (33 rows a day for 5 keys × 6 models instead of 33 × 24), whole hours at the
 *   edges of the range still come from `usage_rollups`, partial hours from raw events. They are written exactly
 *   like the hourly rows, by the settlement batch, in the same statement: the batch's fresh events grouped per hour
 *   once, those groups upserted into the hourly rollups and, summed per day, into the daily ones (one multi-row
 *   upsert each, in one statement). Backfilled here from the hourly rollups.
 * - `conflux_latency_bucket` gives the same buckets without `numeric` logarithms (see `BUCKET_FUNCTION`), for
 *   databases that ran `1764120000000-usage-read.ts` before it did: the logarithm cost about 16 µs an event,
 *   evaluated once per bucket column, so reading the 9,000 raw events of a range's partial hours took seconds.
 *   Checked equal to the old definition for every ms from -5 to 2,000,000 and beyond (all bucket 63 past 1,664,511).
 */
export class UsageDaily1764160000000 implements MigrationInterface {
  name = 'UsageDaily1764160000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(BUCKET_FUNCTION);
    await q.query(`
      CREATE TABLE usage_rollups_daily (
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        day timestamptz NOT NULL,
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
        PRIMARY KEY (account_id, day, key_id, model, provider, test, ok)
      )`);
    await q.query(`
      ALTER TABLE usage_rollups_daily SET (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.01,
        autovacuum_vacuum_threshold = 500, autovacuum_analyze_scale_factor = 0.05)`);
    await q.query(`
      INSERT INTO usage_rollups_daily (account_id, day, key_id, model, provider, test, ok, requests, prompt_tokens,
          completion_tokens, cached_tokens, cost_micro, ${L.join(', ')})
      SELECT account_id, date_trunc('day', hour, 'UTC'), key_id, model, provider, test, ok, sum(requests),
             sum(prompt_tokens), sum(completion_tokens), sum(cached_tokens), sum(cost_micro),
             ${L.map((l) => `sum(${l})`).join(', ')}
        FROM usage_rollups GROUP BY 1, 2, 3, 4, 5, 6, 7`);
    await q.query(settleFunctionWith(ROLLUP_UPSERTS));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(settleFunctionWith(HOURLY_ROLLUP));
    // the bucket function stays: it gives the same buckets as the one it replaced
    await q.query(`DROP TABLE usage_rollups_daily`);
  }
}

const L = Array.from({ length: 64 }, (_, b) => `l${String(b).padStart(2, '0')}`);

const SUMS = `requests = u.requests + EXCLUDED.requests,
    prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens,
    completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens,
    cached_tokens = u.cached_tokens + EXCLUDED.cached_tokens,
    cost_micro = u.cost_micro + EXCLUDED.cost_micro,
    ${L.map((l) => `${l} = u.${l} + EXCLUDED.${l}`).join(',\n    ')}`;

/**
 * The rollups of the batch's fresh events: grouped per hour once (each event's bucket computed once, counted per
 * bucket, then spread over the histogram's columns), upserted into the hourly rollups and, summed per day, into the
 * daily ones. One statement; each rollup row is touched once.
 */
export const ROLLUP_UPSERTS = `
  WITH per_bucket AS (
    SELECT r.account_id, date_trunc('hour', r.created_at, 'UTC') AS hour, r.key_id,
           coalesce(r.model_served, r.model_requested) AS model, coalesce(r.provider, '') AS provider, r.test,
           r.status IN ('completed', 'aborted') AS ok, conflux_latency_bucket(r.latency_ms) AS b, count(*) AS n,
           sum(r.prompt_tokens) AS p, sum(r.completion_tokens) AS c, sum(r.cached_tokens) AS ca, sum(r.cost_micro) AS co
      FROM jsonb_to_recordset(batch) AS r(request_id text, account_id uuid, key_id uuid, model_requested text,
           model_served text, provider text, test boolean, status text, prompt_tokens integer, completion_tokens integer,
           cached_tokens integer, cost_micro bigint, latency_ms integer, created_at timestamptz)
      JOIN unnest(fresh) AS f(request_id) ON f.request_id = r.request_id
     WHERE r.key_id IS NOT NULL
     GROUP BY 1, 2, 3, 4, 5, 6, 7, 8),
  grouped AS (
    SELECT account_id, hour, key_id, model, provider, test, ok, sum(n)::integer AS requests, sum(p)::bigint AS p,
           sum(c)::bigint AS c, sum(ca)::bigint AS ca, sum(co)::bigint AS co,
           ${L.map((l, b) => `coalesce(sum(n) FILTER (WHERE b = ${b}), 0)::integer AS ${l}`).join(', ')}
      FROM per_bucket GROUP BY 1, 2, 3, 4, 5, 6, 7),
  hourly AS (
    INSERT INTO usage_rollups AS u (account_id, hour, key_id, model, provider, test, ok, requests, prompt_tokens,
        completion_tokens, cached_tokens, cost_micro, ${L.join(', ')})
    SELECT * FROM grouped
    ON CONFLICT (account_id, hour, key_id, model, provider, test, ok) DO UPDATE SET
    ${SUMS})
  INSERT INTO usage_rollups_daily AS u (account_id, day, key_id, model, provider, test, ok, requests, prompt_tokens,
      completion_tokens, cached_tokens, cost_micro, ${L.join(', ')})
  SELECT account_id, date_trunc('day', hour, 'UTC'), key_id, model, provider, test, ok, sum(requests), sum(p), sum(c),
         sum(ca), sum(co), ${L.map((l) => `sum(${l})`).join(', ')}
    FROM grouped GROUP BY 1, 2, 3, 4, 5, 6, 7
  ON CONFLICT (account_id, day, key_id, model, provider, test, ok) DO UPDATE SET
    ${SUMS};
`;
