import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { rowsOf } from './sql.js';

export interface Grant {
  leaseId: string | null;
  /** What was added to the lease (0 when the account had less available than `min`). */
  grantedMicro: bigint;
  /** What the account had available (balance − leases) before the grant. */
  availableMicro: bigint;
}

/**
 * `credit_leases`: credit an instance has set aside from an account's balance, to admit requests against in
 * memory. `accounts.held_micro` is always the sum of the account's leases. Every statement that changes a lease's
 * amount locks the account row first (and several accounts in id order), so lease changes and settlement batches
 * never deadlock.
 */
@Injectable()
export class LeasesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Adds to this instance's lease on the account what `take(available)` decides (at most what the account has
   * available: balance − every lease), in one transaction that holds the account row only for its duration.
   */
  async grant(
    accountId: string,
    instanceId: string,
    take: (availableMicro: bigint) => bigint,
    expiresAt: Date,
  ): Promise<Grant> {
    return this.dataSource.transaction(async (m) => {
      const [account] = (await m.query(
        `SELECT GREATEST(balance_micro - held_micro, 0)::text AS available FROM accounts WHERE id = $1 FOR UPDATE`,
        [accountId],
      )) as Array<{ available: string }>;
      if (!account) {
        return { leaseId: null, grantedMicro: 0n, availableMicro: 0n };
      }
      const available = BigInt(account.available);
      const wanted = take(available);
      const granted = wanted < 0n ? 0n : wanted > available ? available : wanted;
      if (granted === 0n) {
        return { leaseId: null, grantedMicro: 0n, availableMicro: available };
      }
      await m.query(`UPDATE accounts SET held_micro = held_micro + $2 WHERE id = $1`, [
        accountId,
        granted.toString(),
      ]);
      const [lease] = (await m.query(
        `INSERT INTO credit_leases (account_id, instance_id, amount_micro, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (account_id, instance_id) DO UPDATE
           SET amount_micro = credit_leases.amount_micro + EXCLUDED.amount_micro, expires_at = EXCLUDED.expires_at
         RETURNING id`,
        [accountId, instanceId, granted.toString(), expiresAt],
      )) as Array<{ id: string }>;
      return { leaseId: lease.id, grantedMicro: granted, availableMicro: available };
    });
  }

  /** Gives `amount` of a lease back to its account (all of it, and the lease row, when `amount` is null). */
  async giveBack(leaseId: string, amount: bigint | null): Promise<bigint> {
    return this.dataSource.transaction(async (m) => {
      const [lease] = (await m.query(`SELECT account_id FROM credit_leases WHERE id = $1`, [
        leaseId,
      ])) as Array<{
        account_id: string;
      }>;
      if (!lease) {
        return 0n;
      }
      await m.query(`SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, [lease.account_id]);
      const changed = rowsOf(
        amount === null
          ? await m.query(
              `DELETE FROM credit_leases WHERE id = $1 RETURNING amount_micro::text AS released`,
              [leaseId],
            )
          : await m.query(
              `UPDATE credit_leases l SET amount_micro = l.amount_micro - LEAST(l.amount_micro, $2::bigint)
                 FROM (SELECT amount_micro FROM credit_leases WHERE id = $1) old
                WHERE l.id = $1
               RETURNING LEAST(old.amount_micro, $2::bigint)::text AS released`,
              [leaseId, amount.toString()],
            ),
      ) as Array<{ released: string }>;
      const released = changed[0] ? BigInt(changed[0].released) : 0n;
      await release(m, lease.account_id, released);
      return released;
    });
  }

  /** Extends every lease of this instance; returns the ids still alive (the others expired and were reclaimed). */
  async renew(instanceId: string, expiresAt: Date): Promise<Set<string>> {
    const rows = rowsOf(
      await this.dataSource.query(
        `UPDATE credit_leases SET expires_at = $2 WHERE instance_id = $1 RETURNING id`,
        [instanceId, expiresAt],
      ),
    ) as Array<{ id: string }>;
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Returns the credit of leases that expired (their instance stopped renewing them: it crashed or lost the
   * database) to their accounts. Several instances may run this at once: each lease is returned once.
   */
  async reclaimExpired(now: Date): Promise<number> {
    return this.dataSource.transaction(async (m) => {
      const accounts = (await m.query(
        `SELECT id FROM accounts WHERE id IN (SELECT account_id FROM credit_leases WHERE expires_at < $1)
          ORDER BY id FOR UPDATE`,
        [now],
      )) as Array<{ id: string }>;
      if (accounts.length === 0) {
        return 0;
      }
      const deleted = rowsOf(
        await m.query(
          `DELETE FROM credit_leases WHERE expires_at < $1 AND account_id = ANY ($2::uuid[])
           RETURNING account_id, amount_micro::text AS amount`,
          [now, accounts.map((a) => a.id)],
        ),
      ) as Array<{ account_id: string; amount: string }>;
      for (const row of deleted) {
        await release(m, row.account_id, BigInt(row.amount));
      }
      return deleted.length;
    });
  }
}

async function release(m: EntityManager, accountId: string, amount: bigint): Promise<void> {
  if (amount > 0n) {
    await m.query(`UPDATE accounts SET held_micro = held_micro - $2 WHERE id = $1`, [
      accountId,
      amount.toString(),
    ]);
  }
}
