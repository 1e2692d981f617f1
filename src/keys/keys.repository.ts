import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { IsNull, type DataSource, type EntityManager } from 'typeorm';
import type { Account } from '../accounts/account.entity.js';
import { ApiKey } from './api-key.entity.js';

export interface KeyWithAccount {
  key: ApiKey;
  account: Pick<Account, 'id' | 'plan' | 'role' | 'status' | 'pastDueSince'> & { emailVerified: boolean };
}

@Injectable()
export class KeysRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private get repo() {
    return this.dataSource.getRepository(ApiKey);
  }

  async insert(key: Omit<ApiKey, 'id' | 'createdAt' | 'revokedAt' | 'lastUsedAt'>): Promise<ApiKey> {
    const result = await this.repo.insert(key);
    const id = (result.identifiers[0] as { id: string }).id;
    return this.repo.findOneByOrFail({ id });
  }

  listByAccount(accountId: string): Promise<ApiKey[]> {
    return this.repo.find({ where: { accountId }, order: { createdAt: 'DESC' } });
  }

  findByPublicId(accountId: string, publicId: string): Promise<ApiKey | null> {
    return this.repo.findOneBy({ accountId, publicId });
  }

  /** The key with its account's state, by SHA-256: one indexed lookup. */
  async findByHash(sha256: string): Promise<KeyWithAccount | null> {
    const rows = (await this.dataSource.query(
      `SELECT k.id, k.public_id, k.account_id, k.kind, k.expires_at, k.revoked_at,
              a.plan, a.role, a.status, a.past_due_since, a.email_verified_at IS NOT NULL AS email_verified
         FROM api_keys k JOIN accounts a ON a.id = k.account_id
        WHERE k.sha256 = $1`,
      [sha256],
    )) as Array<{
      id: string;
      public_id: string;
      account_id: string;
      kind: ApiKey['kind'];
      expires_at: Date | null;
      revoked_at: Date | null;
      plan: Account['plan'];
      role: Account['role'];
      status: Account['status'];
      past_due_since: Date | null;
      email_verified: boolean;
    }>;
    const row = rows[0];
    if (!row) {
      return null;
    }
    const key = Object.assign(new ApiKey(), {
      id: row.id,
      publicId: row.public_id,
      accountId: row.account_id,
      kind: row.kind,
      expiresAt: row.expires_at ? new Date(row.expires_at) : null,
      revokedAt: row.revoked_at ? new Date(row.revoked_at) : null,
    });
    return {
      key,
      account: {
        id: row.account_id,
        plan: row.plan,
        role: row.role,
        status: row.status,
        pastDueSince: row.past_due_since ? new Date(row.past_due_since) : null,
        emailVerified: row.email_verified,
      },
    };
  }

  /** Revokes the key if it is not revoked yet; returns the key (revoked) or null when it is not the account's. */
  async revoke(accountId: string, publicId: string): Promise<ApiKey | null> {
    await this.repo.update({ accountId, publicId, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
    return this.findByPublicId(accountId, publicId);
  }

  findAnyByPublicId(publicId: string): Promise<ApiKey | null> {
    return this.repo.findOneBy({ publicId });
  }

  /** Revokes every key of the account not revoked yet; returns their hashes. */
  async revokeAll(accountId: string, at: Date): Promise<string[]> {
    const result = (await this.dataSource.query(
      `UPDATE api_keys SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL RETURNING sha256`,
      [accountId, at],
    )) as unknown;
    const rows = (
      Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) ? result[0] : result
    ) as Array<{ sha256: string }>;
    return rows.map((r) => r.sha256);
  }

  async accountsByKey(text: string): Promise<string[]> {
    const rows = (await this.dataSource.query(
      `SELECT DISTINCT account_id FROM api_keys
        WHERE public_id = $1 OR (length($1) >= 12 AND left($1, 12) = display_prefix)
        LIMIT 100`,
      [text],
    )) as Array<{ account_id: string }>;
    return rows.map((r) => r.account_id);
  }

  async deleteAllOf(m: EntityManager, accountId: string): Promise<void> {
    await m.query(`DELETE FROM api_keys WHERE account_id = $1`, [accountId]);
  }

  /** One write for many keys: `last_used_at` is batched, never written per request. */
  async touch(ids: string[], at: Date): Promise<void> {
    if (ids.length === 0) {
      return;
    }
    await this.dataSource.query(
      `UPDATE api_keys SET last_used_at = GREATEST(coalesce(last_used_at, $2), $2) WHERE id = ANY($1::uuid[])`,
      [ids, at],
    );
  }
}
