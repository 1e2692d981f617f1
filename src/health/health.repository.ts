import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { ProviderId } from '../common/provider-ids.js';
import type { HealthState, ProbeRecord } from './health.types.js';

/** The advisory lock id of the probe rounds (shared by every instance). */
const PROBE_LOCK = 7_201_005;

/** How long probe history is kept (uptime needs 24 h; the rest is for investigations). */
const RETENTION_DAYS = 7;

interface ProbeRow {
  provider: ProviderId;
  checked_at: Date | string;
  state: HealthState;
  http_status: number | null;
  latency_ms: number | null;
  error: string | null;
}

function toRecord(row: ProbeRow): ProbeRecord {
  return {
    provider: row.provider,
    checkedAt: new Date(row.checked_at),
    state: row.state,
    httpStatus: row.http_status,
    latencyMs: row.latency_ms,
    error: row.error,
  };
}

/** `provider_health` (probe history) and `provider_health_rounds` (which instance runs which round). */
@Injectable()
export class HealthRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Claims the probe round `slot` (the interval's number, `floor(now / probeIntervalMs)` on the instance's clock)
   * for this instance. True for exactly one caller per slot: the primary key makes a second claim of the same
   * round a no-op, and the advisory lock makes a concurrent claimer give up at once instead of waiting on it.
   * Clocks a little apart only change which instance wins a slot, never how often a slot is probed.
   * One statement, so no connection is held (PGlite has only one).
   */
  async claimRound(slot: number): Promise<boolean> {
    const rows = (await this.dataSource.query(
      `INSERT INTO provider_health_rounds (slot)
       SELECT $1::bigint
        WHERE pg_try_advisory_xact_lock($2)
       ON CONFLICT (slot) DO NOTHING
       RETURNING slot`,
      [slot, PROBE_LOCK],
    )) as unknown[];
    return rows.length === 1;
  }

  /** Records a round's results, stamped with the database's clock (the one every reader compares with). */
  async insert(records: Array<Omit<ProbeRecord, 'checkedAt'>>): Promise<void> {
    if (records.length === 0) {
      return;
    }
    const values: unknown[] = [];
    const tuples = records.map((r, i) => {
      values.push(r.provider, r.state, r.httpStatus, r.latencyMs, r.error);
      const base = i * 5;
      return `($${base + 1}, $${base + 2}, $${base + 3}, $${base + 4}, $${base + 5})`;
    });
    await this.dataSource.query(
      `INSERT INTO provider_health (provider, state, http_status, latency_ms, error)
       VALUES ${tuples.join(', ')}`,
      values,
    );
  }

  /** The newest probe of each provider, ignoring those older than `maxAgeMs` (no longer telling). */
  async latest(maxAgeMs: number): Promise<ProbeRecord[]> {
    const rows = (await this.dataSource.query(
      `SELECT DISTINCT ON (provider) provider, checked_at, state, http_status, latency_ms, error
         FROM provider_health
        WHERE checked_at > now() - $1 * interval '1 millisecond'
        ORDER BY provider, checked_at DESC`,
      [maxAgeMs],
    )) as ProbeRow[];
    return rows.map(toRecord);
  }

  /** The states of each provider's last `count` probes within `maxAgeMs`, newest first. */
  async recentStates(count: number, maxAgeMs: number): Promise<Map<ProviderId, HealthState[]>> {
    const rows = (await this.dataSource.query(
      `SELECT provider, state FROM (
         SELECT provider, state, checked_at,
                row_number() OVER (PARTITION BY provider ORDER BY checked_at DESC) AS n
           FROM provider_health
          WHERE checked_at > now() - $2 * interval '1 millisecond'
       ) recent
        WHERE n <= $1
        ORDER BY provider, checked_at DESC`,
      [count, maxAgeMs],
    )) as Array<{ provider: ProviderId; state: HealthState }>;
    const out = new Map<ProviderId, HealthState[]>();
    for (const row of rows) {
      out.set(row.provider, [...(out.get(row.provider) ?? []), row.state]);
    }
    return out;
  }

  /** Per provider: the share of the last 24 h of probes that found it up (healthy or degraded), and how many. */
  async uptime24h(): Promise<Map<ProviderId, { up: number; total: number }>> {
    const rows = (await this.dataSource.query(
      `SELECT provider, count(*) FILTER (WHERE state <> 'down')::int AS up, count(*)::int AS total
         FROM provider_health
        WHERE checked_at > now() - interval '24 hours'
        GROUP BY provider`,
    )) as Array<{ provider: ProviderId; up: number; total: number }>;
    return new Map(rows.map((r) => [r.provider, { up: Number(r.up), total: Number(r.total) }]));
  }

  /** Drops history past the retention period. */
  async purge(): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM provider_health WHERE checked_at < now() - $1 * interval '1 day'`,
      [RETENTION_DAYS],
    );
    await this.dataSource.query(
      `DELETE FROM provider_health_rounds WHERE started_at < now() - $1 * interval '1 day'`,
      [RETENTION_DAYS],
    );
  }
}
