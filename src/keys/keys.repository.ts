import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { IsNull, type DataSource, type EntityManager } from 'typeorm';
import type { Account } from '../accounts/account.entity.js';
import { rowsOf } from '../billing/sql.js';
import { ApiKey } from './api-key.entity.js';

export interface KeyWithAccount {
  key: ApiKey;
  /** False when the hash is the secret before the key's last rotation. */
  current: boolean;
  account: Pick<Account, 'id' | 'plan' | 'role' | 'status' | 'pastDueSince'> & { emailVerified: boolean };
}

@Injectable()
export class KeysRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private get repo() {
    return this.dataSource.getRepository(ApiKey);
  }

  async insert(
    key: Pick<
      ApiKey,
      'publicId' | 'accountId' | 'kind' | 'name' | 'displayPrefix' | 'last4' | 'sha256' | 'expiresAt'
    >,
  ): Promise<ApiKey> {
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

  /**
   * The key with its account's state, by SHA-256 of its current secret or of the one before its last rotation
   * (`current` says which): one indexed lookup.
   */
  async findByHash(sha256: string): Promise<KeyWithAccount | null> {
    const rows = (await this.dataSource.query(
      `SELECT k.id, k.public_id, k.account_id, k.kind, k.expires_at, k.revoked_at, k.credit_limit_micro::text AS lim,
              k.allowed_models, k.rate_limit_rpm, k.sha256 = $1 AS current, k.previous_valid_until, k.rotated_at,
              a.plan, a.role, a.status, a.past_due_since, a.email_verified_at IS NOT NULL AS email_verified
         FROM api_keys k JOIN accounts a ON a.id = k.account_id
        WHERE k.sha256 = $1 OR k.previous_sha256 = $1`,
      [sha256],
    )) as Array<{
      id: string;
      public_id: string;
      account_id: string;
      kind: ApiKey['kind'];
      expires_at: Date | null;
      revoked_at: Date | null;
      lim: string | null;
      allowed_models: string[] | string | null;
      rate_limit_rpm: number | null;
      current: boolean;
      previous_valid_until: Date | null;
      rotated_at: Date | null;
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
      creditLimitMicro: row.lim === null ? null : BigInt(row.lim),
      allowedModels: textArray(row.allowed_models),
      rateLimitRpm: row.rate_limit_rpm,
      rotatedAt: row.rotated_at ? new Date(row.rotated_at) : null,
      previousValidUntil: row.previous_valid_until ? new Date(row.previous_valid_until) : null,
    });
    return {
      key,
      current: row.current,
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

  /** Sets the key's settings (only the fields given); returns the key before and after, or null when not found. */
  async updateSettings(
    accountId: string,
    publicId: string,
    changes: Partial<Pick<ApiKey, 'name' | 'creditLimitMicro' | 'allowedModels' | 'rateLimitRpm'>>,
  ): Promise<{ before: ApiKey; after: ApiKey } | null> {
    return this.dataSource.transaction(async (m) => {
      const repo = m.getRepository(ApiKey);
      const before = await repo.findOne({
        where: { accountId, publicId },
        lock: { mode: 'pessimistic_write' },
      });
      if (!before) {
        return null;
      }
      if (Object.keys(changes).length > 0) {
        await repo.update({ id: before.id }, changes);
      }
      return { before, after: await repo.findOneByOrFail({ id: before.id }) };
    });
  }

  /**
   * A new secret for the key: the current one becomes the previous one, valid until `validUntil`; the one before
   * it (of an earlier rotation) stops at once. Null when the key is not the account's or is revoked.
   */
  async rotate(
    accountId: string,
    publicId: string,
    next: { sha256: string; displayPrefix: string; last4: string },
    at: Date,
    validUntil: Date,
  ): Promise<{ key: ApiKey; dropped: string | null } | null> {
    const rows = rowsOf(
      await this.dataSource.query(
        `UPDATE api_keys k SET previous_sha256 = k.sha256, previous_valid_until = $4, rotated_at = $3,
                sha256 = $5, display_prefix = $6, last4 = $7
           FROM (SELECT id, previous_sha256 FROM api_keys WHERE account_id = $1 AND public_id = $2 FOR UPDATE) old
          WHERE k.id = old.id AND k.revoked_at IS NULL
         RETURNING k.id, old.previous_sha256 AS dropped`,
        [accountId, publicId, at, validUntil, next.sha256, next.displayPrefix, next.last4],
      ),
    ) as Array<{ id: string; dropped: string | null }>;
    if (!rows[0]) {
      return null;
    }
    return { key: await this.repo.findOneByOrFail({ id: rows[0].id }), dropped: rows[0].dropped };
  }

  /** The account's current billing period, and each key's use in it (keys not used this period are absent). */
  async periodUse(
    accountId: string,
  ): Promise<{ periodStart: Date | null; use: Map<string, { spentMicro: bigint; requests: number }> }> {
    const rows = (await this.dataSource.query(
      `SELECT a.period_start, s.key_id, s.spent_micro::text AS spent, s.requests::text AS requests
         FROM accounts a LEFT JOIN key_spend s ON s.account_id = a.id AND s.period_start = a.period_start
        WHERE a.id = $1`,
      [accountId],
    )) as Array<{ period_start: Date; key_id: string | null; spent: string | null; requests: string | null }>;
    return {
      periodStart: rows[0] ? new Date(rows[0].period_start) : null,
      use: new Map(
        rows
          .filter((r) => r.key_id !== null)
          .map((r) => [r.key_id!, { spentMicro: BigInt(r.spent!), requests: Number(r.requests) }]),
      ),
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
      `UPDATE api_keys SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL
       RETURNING sha256, previous_sha256`,
      [accountId, at],
    )) as unknown;
    const rows = rowsOf(result) as Array<{ sha256: string; previous_sha256: string | null }>;
    return rows.flatMap((r) => (r.previous_sha256 ? [r.sha256, r.previous_sha256] : [r.sha256]));
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

/** A Postgres `text[]` as the driver gives it: an array (pg) or its text form (`{a,b}`). */
function textArray(value: string[] | string | null): string[] | null {
  if (value === null || Array.isArray(value)) {
    return value;
  }
  const inner = value.replace(/^\{|\}$/g, '');
  return inner === '' ? [] : inner.split(',').map((v) => v.replace(/^"|"$/g, ''));
}
