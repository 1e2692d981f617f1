import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { Account } from './account.entity.js';

/**
 * `sessions`: one row per log-in, named by the `sid` of its token. Ending a session is one UPDATE, read by every
 * instance at the next request (each request reads its row with the account, in one query).
 */
@Injectable()
export class SessionsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async create(accountId: string, createdAt: Date, expiresAt: Date): Promise<string> {
    const rows = (await this.dataSource.query(
      `INSERT INTO sessions (account_id, created_at, expires_at) VALUES ($1, $2, $3) RETURNING id`,
      [accountId, createdAt, expiresAt],
    )) as Array<{ id: string }>;
    return rows[0].id;
  }

  /**
   * The account of the session, when the session has not been ended: one query. Its expiry is the token's (`exp`,
   * checked with the signature); `expires_at` only tells when the row may be pruned.
   */
  async findActive(id: string): Promise<Account | null> {
    if (!UUID.test(id)) {
      return null;
    }
    return this.dataSource
      .getRepository(Account)
      .createQueryBuilder('a')
      .innerJoin('sessions', 's', 's.account_id = a.id')
      .where('s.id = :id AND s.revoked_at IS NULL', { id })
      .getOne();
  }

  /** Ends one session of the account; the number ended (0 or 1). */
  async revoke(accountId: string, id: string, now: Date): Promise<number> {
    const rows = (await this.dataSource.query(
      `UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL RETURNING id`,
      [id, accountId, now],
    )) as unknown;
    return changedRows(rows);
  }

  /** Ends every session of the account but `keep` (when given); the number ended. */
  async revokeAll(accountId: string, now: Date, keep?: string): Promise<number> {
    const rows = (await this.dataSource.query(
      `UPDATE sessions SET revoked_at = $2
        WHERE account_id = $1 AND revoked_at IS NULL AND ($3::uuid IS NULL OR id <> $3::uuid) RETURNING id`,
      [accountId, now, keep ?? null],
    )) as unknown;
    return changedRows(rows);
  }

  /** Drops the account's sessions that ended or expired before `before` (kept a while for nothing else). */
  async prune(accountId: string, before: Date): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM sessions WHERE account_id = $1 AND (expires_at < $2 OR revoked_at < $2)`,
      [accountId, before],
    );
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The rows an `UPDATE … RETURNING` changed (the pg driver and PGlite answer in different shapes). */
function changedRows(result: unknown): number {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0])) {
    return (result[0] as unknown[]).length;
  }
  return Array.isArray(result) ? result.length : 0;
}
