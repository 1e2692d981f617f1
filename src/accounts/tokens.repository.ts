import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';

export type TokenPurpose = 'verify_email' | 'reset_password';

/** `account_tokens`: the single-use tokens mailed to an account, kept as their SHA-256 only. */
@Injectable()
export class TokensRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(
    accountId: string,
    purpose: TokenPurpose,
    sha256: string,
    createdAt: Date,
    expiresAt: Date,
  ): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO account_tokens (account_id, purpose, token_sha256, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5)`,
      [accountId, purpose, sha256, createdAt, expiresAt],
    );
  }

  /**
   * Uses the token: marks it used and returns its account, when it has this purpose, was never used and has not
   * expired at `now`; null otherwise. One conditional UPDATE: two requests with one token cannot both use it.
   */
  async consume(m: EntityManager, purpose: TokenPurpose, sha256: string, now: Date): Promise<string | null> {
    const rows = (await m.query(
      `UPDATE account_tokens SET used_at = $3
        WHERE token_sha256 = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
        RETURNING account_id`,
      [sha256, purpose, now],
    )) as unknown;
    const list = (
      Array.isArray(rows) && rows.length === 2 && Array.isArray(rows[0]) ? rows[0] : rows
    ) as Array<{ account_id: string }>;
    return list[0]?.account_id ?? null;
  }

  /** Marks every unused token of the account with this purpose as used (a reset ends the other reset links). */
  async consumeAll(m: EntityManager, accountId: string, purpose: TokenPurpose, now: Date): Promise<void> {
    await m.query(
      `UPDATE account_tokens SET used_at = $3 WHERE account_id = $1 AND purpose = $2 AND used_at IS NULL`,
      [accountId, purpose, now],
    );
  }

  /** When the account's tokens of this purpose issued since `since` were issued, oldest first. */
  async issuedSince(accountId: string, purpose: TokenPurpose, since: Date): Promise<Date[]> {
    const rows = (await this.dataSource.query(
      `SELECT created_at FROM account_tokens WHERE account_id = $1 AND purpose = $2 AND created_at > $3
        ORDER BY created_at`,
      [accountId, purpose, since],
    )) as Array<{ created_at: Date | string }>;
    return rows.map((r) => new Date(r.created_at));
  }

  transaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }
}
