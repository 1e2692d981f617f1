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
  grantMicro: bigint;
}

@Injectable()
export class AccountsRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ledger: LedgerWriter,
  ) {}

  findById(id: string): Promise<Account | null> {
    return this.dataSource.getRepository(Account).findOneBy({ id });
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
   * Creates the account with its first allocation: billing posts the `grant` (ledger entry and balance) in the
   * same transaction, so the balance equals the sum of the ledger from the first moment.
   * Returns null when the email is taken.
   */
  async create(input: NewAccount): Promise<Account | null> {
    return this.dataSource.transaction(async (manager: EntityManager) => {
      const inserted = await manager.query(
        `INSERT INTO accounts (email, password_hash, role, plan)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING
         RETURNING id`,
        [input.email, input.passwordHash, input.role, input.plan],
      );
      const rows = inserted as Array<{ id: string }>;
      if (rows.length === 0) {
        return null;
      }
      const id = rows[0].id;
      await this.ledger.post(manager, {
        accountId: id,
        kind: 'grant',
        amountMicro: input.grantMicro,
        reference: `signup:${id}`,
        note: `${input.plan} plan allocation`,
      });
      return manager.getRepository(Account).findOneByOrFail({ id });
    });
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
   * the email becomes a tombstone naming only the id, the password can never match.
   */
  async tombstone(m: EntityManager, id: string, now: Date): Promise<void> {
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

/** Whether an `UPDATE … RETURNING` changed a row (the pg driver and PGlite answer in different shapes). */
function updated(result: unknown): boolean {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0])) {
    return (result[0] as unknown[]).length > 0;
  }
  return Array.isArray(result) && result.length > 0;
}
