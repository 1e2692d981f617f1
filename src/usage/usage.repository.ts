import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { CursorPosition } from './cursor.js';
import { detached, preparedRead } from '../database/prepared-read.js';
import { LATENCY_COLUMNS } from './latency.js';
import type { GroupDimension, UsageFilters } from './usage.query.js';

/** One usage event as stored (metadata only: there is no content column to read). */
export interface EventRow {
  id: string;
  /** `created_at` to the microsecond, where a page ends (the cursor). */
  position: string;
  request_id: string;
  /** ISO 8601 with milliseconds, like the rest of the API. */
  created_at: string;
  key_id: string | null;
  test: boolean;
  model_requested: string;
  model_served: string | null;
  provider: string | null;
  attempts: number;
  streamed: boolean;
  status: string;
  http_status: number;
  error_code: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  cost_micro: string;
  latency_ms: number;
  ttft_ms: number | null;
  estimated: boolean;
}

/** One group of a grouped read: its dimensions (those asked for) and its sums. */
export interface GroupRow {
  hour?: string;
  day?: string;
  model?: string;
  key_id?: string | null;
  provider?: string;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  /** The sum of the costs in µcr, as Postgres writes a `bigint`. */
  cost_micro: string;
  /** The merged latency histogram: its counts in bucket order, comma-separated (see `percentilesMs`). */
  histogram: string;
}

/** Statuses that count as answered (a client that left mid-answer was still served); the others are errors. */
const OK_STATUSES = `('completed', 'aborted')`;
const MICROSECONDS = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const MILLISECONDS = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Reads of `usage_events` and `usage_rollups`, always inside one account. */
@Injectable()
export class UsageRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async period(accountId: string): Promise<{ start: Date; end: Date } | null> {
    const rows = (await this.dataSource.query(`SELECT period_start, period_end FROM accounts WHERE id = $1`, [
      accountId,
    ])) as Array<{ period_start: Date | string; period_end: Date | string }>;
    return rows[0] ? { start: new Date(rows[0].period_start), end: new Date(rows[0].period_end) } : null;
  }

  /** Public ids of keys by their internal ids (for the usage stream). */
  async publicKeyIds(ids: string[]): Promise<Map<string, string>> {
    const rows = (await this.dataSource.query(
      `SELECT id, public_id FROM api_keys WHERE id = ANY($1::uuid[])`,
      [ids],
    )) as Array<{ id: string; public_id: string }>;
    return new Map(rows.map((r) => [r.id, r.public_id]));
  }

  /** Creates the monthly partition of `usage_events` starting at `month` unless it exists; true if it did. */
  async ensurePartition(month: Date): Promise<boolean> {
    const rows = (await this.dataSource.query(`SELECT conflux_usage_partition($1::date) AS created`, [
      month.toISOString().slice(0, 10),
    ])) as Array<{ created: boolean }>;
    return rows[0].created;
  }

  /** Drops the raw events before `cutoff`, a month's partition at a time; returns the partitions dropped. */
  async dropBefore(cutoff: Date): Promise<number> {
    const rows = (await this.dataSource.query(`SELECT conflux_usage_drop_before($1) AS dropped`, [
      cutoff,
    ])) as Array<{ dropped: number }>;
    return rows[0].dropped;
  }

  /** A page of events, newest first, after `after` (exclusive) when given. */
  async events(
    accountId: string,
    filters: UsageFilters,
    after: CursorPosition | null,
    limit: number,
  ): Promise<EventRow[]> {
    const p = new Params();
    const account = p.add(accountId);
    const where = [
      `e.account_id = ${account}`,
      `e.created_at >= ${p.add(filters.from)}`,
      `e.created_at < ${p.add(filters.to)}`,
      ...eventFilters(account, ...(filterValues(filters).map((v) => p.add(v)) as FilterSlots)),
    ];
    if (after) {
      where.push(
        `(e.created_at, e.id) < (${p.add(after.createdAt)}::timestamptz, ${p.add(after.id)}::bigint)`,
      );
    }
    // up to 1,001 rows: detached from the driver's array, as a grouped read's (see `detached`)
    return detached(
      (await this.dataSource.query(
        `SELECT e.id::text AS id, to_char(e.created_at AT TIME ZONE 'UTC', ${MICROSECONDS}) AS position, e.request_id,
              to_char(e.created_at AT TIME ZONE 'UTC', ${MILLISECONDS}) AS created_at,
              k.public_id AS key_id, e.test, e.model_requested, e.model_served, e.provider, e.attempts, e.streamed,
              e.status, e.http_status, e.error_code, e.prompt_tokens, e.completion_tokens, e.cached_tokens,
              e.reasoning_tokens, e.cost_micro::text AS cost_micro, e.latency_ms, e.ttft_ms, e.estimated
         FROM usage_events e LEFT JOIN api_keys k ON k.id = e.key_id
        WHERE ${where.join(' AND ')}
        ORDER BY e.created_at DESC, e.id DESC
        LIMIT ${p.add(limit)}`,
        p.values,
      )) as EventRow[],
    );
  }

  /**
   * Sums per group, exact, from the cheapest source for each part of the range: whole UTC days from the daily
   * rollups (unless grouped by hour), the whole hours around them from the hourly rollups, and only the partial
   * hours at the edges (when `from` or `to` is not on the hour) from raw events, in the same shape.
   *
   * The statement's text depends on `groupBy` alone (every filter is a parameter, `NULL` when not given), so it is
   * prepared once per connection and shape (see `preparedRead`); each latency histogram comes back as one text
   * column (`3,0,17,…`), 64 integer columns cost more to parse than to sum.
   */
  async groups(accountId: string, filters: UsageFilters, groupBy: GroupDimension[]): Promise<GroupRow[]> {
    const hourMs = 3_600_000;
    const dayMs = 24 * hourMs;
    const firstHour = Math.ceil(filters.from.getTime() / hourMs) * hourMs;
    const lastHour = Math.max(firstHour, Math.floor(filters.to.getTime() / hourMs) * hourMs);
    let firstDay = Math.ceil(firstHour / dayMs) * dayMs;
    let lastDay = Math.floor(lastHour / dayMs) * dayMs;
    if (groupBy.includes('hour') || lastDay <= firstDay) {
      [firstDay, lastDay] = [lastHour, lastHour]; // no whole day read from the daily rollups
    }
    const values = [
      accountId,
      ...[filters.from.getTime(), filters.to.getTime(), firstHour, lastHour, firstDay, lastDay].map(
        (ms) => new Date(ms),
      ),
      ...filterValues(filters),
    ];
    // the rows are the groups as they are: one object each, named and typed as `GroupRow` by the statement
    return preparedRead<GroupRow>(
      this.dataSource,
      `usage_groups_${groupBy.join('_')}`,
      statementFor(groupBy),
      values,
    );
  }
}

/** The placeholders of the filters other than the range: key id, model, provider, ok, test. */
type FilterSlots = [key: string, model: string, provider: string, ok: string, test: string];

/** The values of those filters, in that order: each `NULL` when not given. */
function filterValues(
  filters: UsageFilters,
): [string | null, string | null, string | null, boolean | null, boolean | null] {
  return [
    filters.keyId,
    filters.model,
    filters.provider,
    filters.status === null ? null : filters.status === 'ok',
    filters.kind === null ? null : filters.kind === 'test',
  ];
}

/** The key of public id `key`, looked up inside the account: another account's key id matches nothing. */
const keyOf = (account: string, key: string) =>
  `(SELECT id FROM api_keys WHERE account_id = ${account} AND public_id = ${key})`;

/**
 * The filters other than the range, on raw events (`e`): one text whatever is given, each filter true when its
 * parameter is `NULL` (the plan, made with the values known, folds those away).
 */
function eventFilters(account: string, ...[key, model, provider, ok, test]: FilterSlots): string[] {
  return [
    `(${key}::text IS NULL OR e.key_id = ${keyOf(account, key)})`,
    `(${model}::text IS NULL OR coalesce(e.model_served, e.model_requested) = ${model})`,
    `(${provider}::text IS NULL OR e.provider = ${provider})`,
    `(${ok}::boolean IS NULL OR (e.status IN ${OK_STATUSES}) = ${ok})`,
    `(${test}::boolean IS NULL OR e.test = ${test})`,
  ];
}

/** The same filters on rollups (`r`), whose rows carry the model served, the provider, ok and test as columns. */
function rollupFilters(account: string, ...[key, model, provider, ok, test]: FilterSlots): string[] {
  return [
    `(${key}::text IS NULL OR r.key_id = ${keyOf(account, key)})`,
    `(${model}::text IS NULL OR r.model = ${model})`,
    `(${provider}::text IS NULL OR r.provider = ${provider})`,
    `(${ok}::boolean IS NULL OR r.ok = ${ok})`,
    `(${test}::boolean IS NULL OR r.test = ${test})`,
  ];
}

/** The grouped read's filter placeholders (see `groupsStatement`). */
const GROUP_SLOTS: FilterSlots = ['$8', '$9', '$10', '$11', '$12'];

/** Each `groupBy` shape's text, built once (at most 25 shapes: one or two of five dimensions, in order). */
const STATEMENTS = new Map<string, string>();

function statementFor(groupBy: readonly GroupDimension[]): string {
  const shape = groupBy.join(',');
  let text = STATEMENTS.get(shape);
  if (text === undefined) {
    text = groupsStatement(groupBy);
    STATEMENTS.set(shape, text);
  }
  return text;
}

/**
 * The grouped read for one `groupBy`. Parameters: $1 the account; $2/$3 the range; $4/$5 its whole hours; $6/$7 its
 * whole days (empty when grouped by hour); $8 key id, $9 model, $10 provider, $11 ok, $12 test, each `NULL` for no
 * filter (a custom plan folds `NULL IS NULL OR …` away).
 */
function groupsStatement(groupBy: readonly GroupDimension[]): string {
  // The raw events of one edge's partial hour, counted per latency bucket. Each edge lies within one hour, `hour`,
  // so its hour and day are constants: truncating each event's time (with its time zone looked up by name) was a
  // third of the read. The edges are two plain ranges: one condition `OR`ing them was estimated at ten times its
  // rows, and sorted where a hash does.
  const rawEdge = (lo: string, hi: string, hour: string) =>
    `SELECT ${hour} AS t, date_trunc('day', ${hour}, 'UTC') AS d, e.key_id,
            coalesce(e.model_served, e.model_requested) AS model, coalesce(e.provider, '') AS provider,
            e.status IN ${OK_STATUSES} AS ok, conflux_latency_bucket(e.latency_ms) AS b, count(*)::int AS n,
            sum(e.prompt_tokens) AS p, sum(e.completion_tokens) AS c, sum(e.cached_tokens) AS ca,
            sum(e.cost_micro) AS co
       FROM usage_events e
      WHERE ${[
        `e.account_id = $1`,
        `e.created_at >= ${lo} AND e.created_at < ${hi}`,
        `e.key_id IS NOT NULL`,
        ...eventFilters('$1', ...GROUP_SLOTS),
      ].join(' AND ')}
      GROUP BY 3, 4, 5, 6, 7`;
  // each source gives its rows' time (hour or day) and UTC day
  const rollup = (table: string, time: 'day' | 'hour', lo: string, hi: string) =>
    `SELECT r.${time} AS t, ${time === 'day' ? 'r.day' : `date_trunc('day', r.hour, 'UTC')`} AS d, r.key_id, r.model,
            r.provider, r.requests, CASE WHEN r.ok THEN 0 ELSE r.requests END AS errors, r.prompt_tokens,
            r.completion_tokens, r.cached_tokens, r.cost_micro, ${LATENCY_COLUMNS.map((l) => `r.${l}`).join(', ')}
       FROM ${table} r
      WHERE ${[`r.account_id = $1`, `r.${time} >= ${lo}`, `r.${time} < ${hi}`, ...rollupFilters('$1', ...GROUP_SLOTS)].join(' AND ')}`;
  // grouped on the times themselves, formatted once per group
  const dimension: Record<GroupDimension, string> = {
    hour: `s.t`,
    day: `s.d`,
    model: `s.model`,
    key: `s.key_id`,
    provider: `s.provider`,
  };
  // named and typed as `GroupRow`: the tokens as float8, exact below 2^53, so that `pg` gives numbers
  const output: Record<GroupDimension, string> = {
    hour: `to_char(g.g_hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:00:00"Z"') AS hour`,
    day: `to_char(g.g_day AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day`,
    model: `g.g_model AS model`,
    key: `k.public_id AS key_id`,
    provider: `g.g_provider AS provider`,
  };
  const columns = groupBy.map((d) => `${dimension[d]} AS g_${d}`);
  const keys = groupBy.map((_, i) => String(i + 1));
  return `WITH s AS (
       ${rollup('usage_rollups_daily', 'day', '$6', '$7')}
       UNION ALL
       ${rollup('usage_rollups', 'hour', '$4', '$6')}
       UNION ALL
       ${rollup('usage_rollups', 'hour', '$7', '$5')}
       UNION ALL
       SELECT x.t, x.d, x.key_id, x.model, x.provider, sum(x.n)::int,
              coalesce(sum(x.n) FILTER (WHERE NOT x.ok), 0)::int, sum(x.p), sum(x.c), sum(x.ca), sum(x.co),
              ${LATENCY_COLUMNS.map((_, b) => `coalesce(sum(x.n) FILTER (WHERE x.b = ${b}), 0)::int`).join(', ')}
         FROM (${rawEdge('$2', 'least($4, $3)', `date_trunc('hour', $2, 'UTC')`)}
               UNION ALL
               ${rawEdge('greatest($5, $2)', '$3', '$5')}) x
        GROUP BY 1, 2, 3, 4, 5),
     g AS (
       SELECT ${columns.join(', ')}, sum(s.requests)::int AS requests, sum(s.errors)::int AS errors,
              sum(s.prompt_tokens)::float8 AS prompt_tokens, sum(s.completion_tokens)::float8 AS completion_tokens,
              sum(s.cached_tokens)::float8 AS cached_tokens, sum(s.cost_micro)::text AS cost_micro,
              ${LATENCY_COLUMNS.map((l) => `sum(s.${l})::int AS ${l}`).join(', ')}
         FROM s GROUP BY ${keys.join(', ')})
     SELECT ${groupBy.map((d) => output[d]).join(', ')}, g.requests, g.errors, g.prompt_tokens, g.completion_tokens,
            g.cached_tokens, g.cost_micro, concat_ws(',', ${LATENCY_COLUMNS.map((l) => `g.${l}`).join(', ')}) AS histogram
       FROM g ${groupBy.includes('key') ? 'LEFT JOIN api_keys k ON k.id = g.g_key' : ''}
      ORDER BY ${groupBy.map((d) => `g.g_${d}`).join(', ')}`;
}
