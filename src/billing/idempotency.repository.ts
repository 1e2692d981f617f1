import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

export interface IdempotencyRow {
  state: 'in_flight' | 'completed';
  sealed: Buffer | null;
  createdAt: Date;
  expired: boolean;
}

/** `idempotency_records`: one row per (account, Idempotency-Key), in flight or completed with a sealed answer. */
@Injectable()
export class IdempotencyRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Claims the key for a new request; false when a record exists. */
  async insert(lookup: string, accountId: string, retentionHours: number): Promise<boolean> {
    const inserted = (await this.dataSource.query(
      `INSERT INTO idempotency_records (lookup, account_id, state, expires_at)
       VALUES ($1, $2, 'in_flight', now() + make_interval(hours => $3))
       ON CONFLICT (lookup) DO NOTHING RETURNING lookup`,
      [lookup, accountId, retentionHours],
    )) as unknown[];
    return inserted.length > 0;
  }

  async find(lookup: string): Promise<IdempotencyRow | null> {
    const rows = (await this.dataSource.query(
      `SELECT state, sealed, created_at, expires_at < now() AS expired FROM idempotency_records WHERE lookup = $1`,
      [lookup],
    )) as Array<{
      state: IdempotencyRow['state'];
      sealed: Buffer | null;
      created_at: Date;
      expired: boolean;
    }>;
    const row = rows[0];
    return row
      ? { state: row.state, sealed: row.sealed, createdAt: new Date(row.created_at), expired: row.expired }
      : null;
  }

  async delete(lookup: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM idempotency_records WHERE lookup = $1`, [lookup]);
  }

  async complete(lookup: string, sealed: Buffer | null): Promise<void> {
    await this.dataSource.query(
      `UPDATE idempotency_records SET state = 'completed', sealed = $2 WHERE lookup = $1`,
      [lookup, sealed],
    );
  }

  /** Frees a key whose request failed before completing. */
  async release(lookup: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM idempotency_records WHERE lookup = $1 AND state = 'in_flight'`, [
      lookup,
    ]);
  }

  /** Deletes expired records; returns how many. */
  async purgeExpired(): Promise<number> {
    const result = (await this.dataSource.query(
      `DELETE FROM idempotency_records WHERE expires_at < now()`,
    )) as [unknown[], number];
    return Array.isArray(result) ? (result[1] ?? 0) : 0;
  }
}
