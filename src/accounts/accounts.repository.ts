import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { LedgerWriter } from '../billing/ledger.writer.js';
import { Account, type AccountStatus, type Plan, type Role } from './account.entity.js';

export interface NewAccount {
  email: string;
  passwordHash: string;
  role: Role;
  plan: Plan;
  /** Set when the address counts as verified from the start (staff made by an admin, the first admin). */
  verifiedAt: Date | null;
  /** The free grant to post now, once per normalised address; null: none now (it waits for verification). */
  grant: FreeGrant | null;
}

export interface FreeGrant {
  /** `addressKey` of the account's email. */
  addressKey: string;
  micro: bigint;
  at: Date;
}

@Injectable()
export class AccountsRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ledger: LedgerWriter,
  ) {}

  /** The account; in the caller's transaction when `m` is given. */
  findById(id: string, m?: EntityManager): Promise<Account | null> {
    return (m ?? this.dataSource.manager).getRepository(Account).findOneBy({ id });
  }

  findByEmail(email: string): Promise<Account | null> {
    return this.dataSource
      .getRepository(Account)
      .createQueryBuilder('a')
      .where('lower(a.email) = lower(:email)', { email })
      .getOne();
  }

  async count(): Promise<number> {
    return this.dataSource.getRepository(Account).count();
  }

  async adminExists(): Promise<boolean> {
    return (await this.dataSource.getRepository(Account).countBy({ role: 'admin' })) > 0;
  }

  /**
   * Creates the account, and with it, when `grant` is given, its first allocation: billing posts the `grant`
   * (ledger entry and balance) in the same transaction, so the balance equals the sum of the ledger from the first
   * moment. Returns null when the email is taken.
   */
  async create(input: NewAccount): Promise<Account | null> {
    return this.dataSource.transaction(async (manager: EntityManager) => {
      const inserted = await manager.query(
        `INSERT INTO accounts (email, password_hash, role, plan, email_verified_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING
         RETURNING id`,
        [input.email, input.passwordHash, input.role, input.plan, input.verifiedAt],
      );
      const rows = inserted as Array<{ id: string }>;
      if (rows.length === 0) {
        return null;
      }
      const id = rows[0].id;
      if (input.grant) {
        await this.grantOnce(manager, id, input.plan, input.grant);
      }
      return manager.getRepository(Account).findOneByOrFail({ id });
    });
  }

  /**
   * Marks the address verified, and posts the free grant when `grant` is given and its address had none yet.
   * `verified` is false when the account was verified already (or does not exist): nothing is done then.
   */
  async markVerified(
    m: EntityManager,
    id: string,
    at: Date,
    grant: FreeGrant | null,
  ): Promise<{ verified: boolean; granted: boolean }> {
    const rows = (await m.query(
      `UPDATE accounts SET email_verified_at = $2 WHERE id = $1 AND email_verified_at IS NULL RETURNING plan`,
      [id, at],
    )) as unknown;
    const changed = returned<{ plan: Plan }>(rows);
    if (changed.length === 0) {
      return { verified: false, granted: false };
    }
    const granted = grant ? await this.grantOnce(m, id, changed[0].plan, grant) : false;
    return { verified: true, granted };
  }

  /**
   * The free grant, once per normalised address: the address is claimed in `free_grants` first (its primary key
   * makes a second claim, even a concurrent one, a no-op), and only the claim that won posts the credits.
   */
  private async grantOnce(m: EntityManager, id: string, plan: Plan, grant: FreeGrant): Promise<boolean> {
    const claimed = (await m.query(
      `INSERT INTO free_grants (address_sha256, account_id, granted_at) VALUES ($1, $2, $3)
       ON CONFLICT (address_sha256) DO NOTHING RETURNING account_id`,
      [grant.addressKey, id, grant.at],
    )) as unknown[];
    if (claimed.length === 0) {
      return false;
    }
    return this.ledger.post(m, {
      accountId: id,
      kind: 'grant',
      amountMicro: grant.micro,
      reference: `signup:${id}`,
      note: `${plan} plan allocation`,
    });
  }

  /** Sets the password hash; with `endSessions`, every session of the account ends too (the epoch moves). */
  async setPassword(
    m: EntityManager | undefined,
    id: string,
    hash: string,
    endSessions: boolean,
  ): Promise<void> {
    await (m ?? this.dataSource).query(
      `UPDATE accounts SET password_hash = $2, session_epoch = session_epoch + $3 WHERE id = $1`,
      [id, hash, endSessions ? 1 : 0],
    );
  }

  transaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  findByIds(ids: string[]): Promise<Account[]> {
    if (ids.length === 0) {
      return Promise.resolve([]);
    }
    return this.dataSource
      .getRepository(Account)
      .createQueryBuilder('a')
      .where('a.id IN (:...ids)', { ids })
      .orderBy('a.created_at', 'DESC')
      .getMany();
  }

  /** Accounts whose email contains `text` (case-insensitive), newest first; every account when `text` is empty. */
  searchByEmail(text: string, limit: number, offset: number): Promise<Account[]> {
    const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return this.dataSource
      .getRepository(Account)
      .createQueryBuilder('a')
      .where('a.email ILIKE :pattern', { pattern })
      .orderBy('a.created_at', 'DESC')
      .addOrderBy('a.id', 'ASC')
      .limit(limit)
      .offset(offset)
      .getMany();
  }

  listStaff(): Promise<Account[]> {
    return this.dataSource
      .getRepository(Account)
      .createQueryBuilder('a')
      .where(`a.role IN ('support', 'admin')`)
      .orderBy('a.created_at', 'ASC')
      .getMany();
  }

  /** Moves the account from one of `from` to `to`; null when it is in none of them (or does not exist). */
  async transition(id: string, from: AccountStatus[], to: AccountStatus): Promise<Account | null> {
    const rows = (await this.dataSource.query(
      `UPDATE accounts SET status = $2 WHERE id = $1 AND status = ANY($3::text[]) RETURNING id`,
      [id, to, from],
    )) as unknown;
    return updated(rows) ? this.findById(id) : null;
  }

  /**
   * Schedules the account's purge: pending deletion (log-in refused, keys refused), every session ended. Null when
   * it is not active or suspended (already pending, deleted, or unknown).
   */
  async requestDeletion(id: string, at: Date, purgeAfter: Date): Promise<Account | null> {
    const rows = (await this.dataSource.query(
      `UPDATE accounts
          SET status = 'pending_deletion', deletion_requested_at = $2, purge_after = $3,
              session_epoch = session_epoch + 1
        WHERE id = $1 AND status IN ('active', 'suspended') RETURNING id`,
      [id, at, purgeAfter],
    )) as unknown;
    return updated(rows) ? this.findById(id) : null;
  }

  /** Cancels a scheduled deletion (the account is active again); null when none is scheduled. */
  async cancelDeletion(id: string): Promise<Account | null> {
    const rows = (await this.dataSource.query(
      `UPDATE accounts SET status = 'active', deletion_requested_at = NULL, purge_after = NULL
        WHERE id = $1 AND status = 'pending_deletion' RETURNING id`,
      [id],
    )) as unknown;
    return updated(rows) ? this.findById(id) : null;
  }

  async endSessions(id: string): Promise<void> {
    await this.dataSource.query(`UPDATE accounts SET session_epoch = session_epoch + 1 WHERE id = $1`, [id]);
  }

  /**
   * Changes the role; refused (false) when it would leave no active admin. The admins are locked first, so two
   * admins demoting each other at the same moment cannot both succeed.
   */
  async setRole(id: string, role: Role): Promise<'changed' | 'last_admin' | 'not_found'> {
    return this.dataSource.transaction(async (m) => {
      const admins = (await m.query(
        `SELECT id FROM accounts WHERE role = 'admin' AND status = 'active' ORDER BY id FOR UPDATE`,
      )) as Array<{ id: string }>;
      if (role !== 'admin' && admins.length === 1 && admins[0].id === id) {
        return 'last_admin';
      }
      const rows = (await m.query(`UPDATE accounts SET role = $2 WHERE id = $1 RETURNING id`, [
        id,
        role,
      ])) as unknown;
      return updated(rows) ? 'changed' : 'not_found';
    });
  }

  /** Accounts whose purge is due (locked for the caller's transaction; another purger skips them). */
  async dueForPurge(m: EntityManager, now: Date, limit: number): Promise<string[]> {
    const rows = (await m.query(
      `SELECT id FROM accounts WHERE status = 'pending_deletion' AND purge_after <= $1
        ORDER BY purge_after LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [now, limit],
    )) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }

  /**
   * Erases the account's personal data and keeps the row the financial records hang on (the ledger, Stripe ids):
   * the email becomes a tombstone naming only the id, the password can never match; sessions and mail tokens go.
   */
  async tombstone(m: EntityManager, id: string, now: Date): Promise<void> {
    // Its sessions and mail tokens go; its address's free grant stays (a new account on it gets none), unnamed.
    await m.query(`DELETE FROM sessions WHERE account_id = $1`, [id]);
    await m.query(`DELETE FROM account_tokens WHERE account_id = $1`, [id]);
    await m.query(`UPDATE free_grants SET account_id = NULL WHERE account_id = $1`, [id]);
    await m.query(
      `UPDATE accounts SET email = $2, password_hash = '!', status = 'deleted', purged_at = $3
        WHERE id = $1 AND status = 'pending_deletion'`,
      [id, tombstoneEmail(id), now],
    );
  }
}

/** The email of a purged account: unique, names only the id, and can never receive mail (RFC 2606 `.invalid`). */
export function tombstoneEmail(id: string): string {
  return `deleted-${id}@purged.invalid`;
}

/** The rows an `UPDATE … RETURNING` returned (the pg driver and PGlite answer in different shapes). */
function returned<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0])) {
    return result[0] as T[];
  }
  return Array.isArray(result) ? (result as T[]) : [];
}

/** Whether an `UPDATE … RETURNING` changed a row (the pg driver and PGlite answer in different shapes). */
function updated(result: unknown): boolean {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0])) {
    return (result[0] as unknown[]).length > 0;
  }
  return Array.isArray(result) && result.length > 0;
}
