import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { LedgerWriter } from '../billing/ledger.writer.js';
import { Account, type Plan, type Role } from './account.entity.js';

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
}
