import type { MigrationInterface, QueryRunner } from 'typeorm';
import { settleFunctionWith } from './1764135000000-lighter-settlement.js';
import { ROLLUP_UPSERTS } from './1764160000000-usage-daily.js';

/**
 * Key settings (a credit limit per billing period, allowed models, a rate limit), rotation with a grace period,
 * each key's spend this period, and alerts before money runs out.
 *
 * `key_spend` is a counter, not a balance: what each key was charged and how many requests it made in its
 * account's current billing period, and what its requests in flight hold (`key_holds`, one row per request, only
 * for keys with a credit limit). The settlement batch moves it in the same transaction as the ledger; admission
 * of a limited key is one call of `conflux_key_hold` (one row lock on the key's counter).
 */
export class KeySettings1764170000000 implements MigrationInterface {
  name = 'KeySettings1764170000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys ADD COLUMN credit_limit_micro bigint CHECK (credit_limit_micro > 0)`);
    await q.query(`ALTER TABLE api_keys ADD COLUMN allowed_models text[]`);
    await q.query(`ALTER TABLE api_keys ADD COLUMN rate_limit_rpm integer CHECK (rate_limit_rpm > 0)`);
    // Rotation: the secret before the last rotation keeps working until previous_valid_until.
    await q.query(`ALTER TABLE api_keys ADD COLUMN previous_sha256 char(64) UNIQUE`);
    await q.query(`ALTER TABLE api_keys ADD COLUMN previous_valid_until timestamptz`);
    await q.query(`ALTER TABLE api_keys ADD COLUMN rotated_at timestamptz`);

    await q.query(`
      CREATE TABLE key_spend (
        key_id uuid PRIMARY KEY REFERENCES api_keys(id) ON DELETE CASCADE,
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        period_start timestamptz NOT NULL,
        spent_micro bigint NOT NULL DEFAULT 0 CHECK (spent_micro >= 0),
        requests bigint NOT NULL DEFAULT 0,
        held_micro bigint NOT NULL DEFAULT 0 CHECK (held_micro >= 0)
      )`);
    // Updated by every settlement batch: free room in each page keeps the updates HOT, and vacuum comes early.
    await q.query(`
      ALTER TABLE key_spend SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.01,
        autovacuum_vacuum_threshold = 500, autovacuum_analyze_scale_factor = 0.05)`);
    // What this period has used so far, so a limit set right after the upgrade counts it.
    await q.query(`
      INSERT INTO key_spend (key_id, account_id, period_start, spent_micro, requests)
      SELECT k.id, k.account_id, a.period_start,
             coalesce(sum(e.cost_micro) FILTER (WHERE NOT e.test), 0), count(e.id)
        FROM api_keys k JOIN accounts a ON a.id = k.account_id
        LEFT JOIN usage_events e ON e.key_id = k.id AND e.account_id = k.account_id AND e.created_at >= a.period_start
       GROUP BY k.id, k.account_id, a.period_start`);

    await q.query(`
      CREATE TABLE key_holds (
        request_id text PRIMARY KEY,
        key_id uuid NOT NULL REFERENCES key_spend(key_id) ON DELETE CASCADE,
        amount_micro bigint NOT NULL CHECK (amount_micro > 0),
        instance_id text NOT NULL,
        expires_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX key_holds_instance_idx ON key_holds (instance_id)`);
    await q.query(`CREATE INDEX key_holds_expiry_idx ON key_holds (expires_at)`);
    await q.query(KEY_HOLD_FUNCTION);
    await q.query(settleFunctionWith(ROLLUP_UPSERTS, KEY_SPEND));

    await q.query(`
      CREATE TABLE alert_settings (
        account_id uuid PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        usage_80 boolean NOT NULL DEFAULT true,
        usage_95 boolean NOT NULL DEFAULT true,
        usage_100 boolean NOT NULL DEFAULT true,
        overage boolean NOT NULL DEFAULT true,
        key_limit_90 boolean NOT NULL DEFAULT true,
        webhook_url text,
        webhook_secret text NOT NULL
      )`);
    // One row per alert and period: the insert that wins is the one that sends it, on whichever instance.
    await q.query(`
      CREATE TABLE alerts_sent (
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        period_start timestamptz NOT NULL,
        alert text NOT NULL,
        sent_at timestamptz NOT NULL,
        PRIMARY KEY (account_id, period_start, alert)
      )`);
    await q.query(`
      CREATE TABLE alert_outbox (
        id bigserial PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        channel text NOT NULL CHECK (channel IN ('webhook', 'mail')),
        body text NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL,
        delivered_at timestamptz,
        failed_at timestamptz,
        last_error text
      )`);
    await q.query(
      `CREATE INDEX alert_outbox_due_idx ON alert_outbox (next_attempt_at)
         WHERE delivered_at IS NULL AND failed_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE alert_outbox`);
    await q.query(`DROP TABLE alerts_sent`);
    await q.query(`DROP TABLE alert_settings`);
    await q.query(settleFunctionWith(ROLLUP_UPSERTS));
    await q.query(`DROP FUNCTION conflux_key_hold(uuid, bigint, bigint, text, text, timestamptz)`);
    await q.query(`DROP TABLE key_holds`);
    await q.query(`DROP TABLE key_spend`);
    for (const column of [
      'rotated_at',
      'previous_valid_until',
      'previous_sha256',
      'rate_limit_rpm',
      'allowed_models',
      'credit_limit_micro',
    ]) {
      await q.query(`ALTER TABLE api_keys DROP COLUMN ${column}`);
    }
  }
}

/**
 * Holds up to `most` (at least `least`) of a limited key's credit for one request: what the key's limit leaves
 * after this period's spend and every hold of requests in flight. One row lock on the key's counter, so
 * concurrent requests on any number of instances never hold more than the limit together. Returns what was held
 * (0: refused), what the key had left before, and the limit.
 */
const KEY_HOLD_FUNCTION = `
CREATE FUNCTION conflux_key_hold(p_key uuid, p_least bigint, p_most bigint, p_request text, p_instance text,
    p_expires timestamptz)
RETURNS TABLE (held_micro bigint, left_micro bigint, limit_micro bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  acct uuid;
  period timestamptz;
  lim bigint;
  spent bigint;
  holding bigint;
  room bigint;
  take bigint;
BEGIN
  SELECT k.account_id, a.period_start, k.credit_limit_micro INTO acct, period, lim
    FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.id = p_key;
  IF lim IS NULL THEN
    RETURN QUERY SELECT 0::bigint, NULL::bigint, NULL::bigint;
    RETURN;
  END IF;
  INSERT INTO key_spend (key_id, account_id, period_start) VALUES (p_key, acct, period) ON CONFLICT (key_id) DO NOTHING;
  SELECT CASE WHEN s.period_start = period THEN s.spent_micro ELSE 0 END, s.held_micro INTO spent, holding
    FROM key_spend s WHERE s.key_id = p_key FOR UPDATE;
  room := greatest(lim - spent - holding, 0);
  take := least(p_most, room);
  IF take < p_least OR take <= 0 THEN
    RETURN QUERY SELECT 0::bigint, room, lim;
    RETURN;
  END IF;
  UPDATE key_spend s SET held_micro = s.held_micro + take,
         spent_micro = spent, requests = CASE WHEN s.period_start = period THEN s.requests ELSE 0 END,
         period_start = period
   WHERE s.key_id = p_key;
  INSERT INTO key_holds (request_id, key_id, amount_micro, instance_id, expires_at)
  VALUES (p_request, p_key, take, p_instance, p_expires);
  RETURN QUERY SELECT take, room, lim;
END
$fn$`;

/**
 * Added to the settlement batch: the holds of its fresh requests leave their keys' counters, and each key's
 * counter takes what its requests were charged (0 for test keys) and how many they were, in its account's
 * current billing period (a counter of an earlier period starts again from 0). Counters are locked in key order
 * first (as the reclaim of expired holds does), so batches and reclaims never deadlock.
 */
const KEY_SPEND = `
  PERFORM 1 FROM key_spend s
   WHERE s.key_id IN (SELECT r.key_id FROM jsonb_to_recordset(batch) AS r(request_id text, key_id uuid)
                        JOIN unnest(fresh) AS f(request_id) ON f.request_id = r.request_id)
   ORDER BY s.key_id FOR UPDATE;

  WITH released AS (
    DELETE FROM key_holds h WHERE h.request_id = ANY (fresh) RETURNING h.key_id, h.amount_micro),
  per_key AS (SELECT released.key_id, sum(released.amount_micro)::bigint AS amount FROM released GROUP BY 1)
  UPDATE key_spend s SET held_micro = s.held_micro - per_key.amount FROM per_key WHERE s.key_id = per_key.key_id;

  INSERT INTO key_spend AS s (key_id, account_id, period_start, spent_micro, requests)
  SELECT u.key_id, a.id, a.period_start, u.charge, u.n
    FROM (SELECT r.key_id, sum(CASE WHEN r.test THEN 0 ELSE r.charge_micro END)::bigint AS charge, count(*) AS n
            FROM jsonb_to_recordset(batch) AS r(request_id text, key_id uuid, test boolean, charge_micro bigint)
            JOIN unnest(fresh) AS f(request_id) ON f.request_id = r.request_id
           WHERE r.key_id IS NOT NULL
           GROUP BY r.key_id) u
    JOIN api_keys k ON k.id = u.key_id JOIN accounts a ON a.id = k.account_id
   ORDER BY u.key_id
  ON CONFLICT (key_id) DO UPDATE SET
    spent_micro = CASE WHEN s.period_start = EXCLUDED.period_start THEN s.spent_micro ELSE 0 END + EXCLUDED.spent_micro,
    requests = CASE WHEN s.period_start = EXCLUDED.period_start THEN s.requests ELSE 0 END + EXCLUDED.requests,
    period_start = EXCLUDED.period_start;
`;
