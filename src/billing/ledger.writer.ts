import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { LedgerKind } from './ledger-entry.entity.js';

export interface Posting {
  accountId: string;
  kind: LedgerKind;
  /** Signed: positive credits the account, negative debits it. */
  amountMicro: bigint;
  /** Unique: a posting with a reference already in the ledger is not written again. */
  reference: string;
  note: string | null;
}

/**
 * The one writer of `credit_ledger`: an entry is appended and the account's balance moves by the same amount in
 * the caller's transaction, so the balance always equals the sum of the ledger. Other modules that must record
 * money as part of their own transaction (the sign-up grant) call `post` with their entity manager.
 */
@Injectable()
export class LedgerWriter {
  /** Appends the entry and moves the balance with it. False (nothing written) when the reference exists. */
  async post(m: EntityManager, posting: Posting): Promise<boolean> {
    if (!(await this.append(m, posting))) {
      return false;
    }
    await m.query(`UPDATE accounts SET balance_micro = balance_micro + $2 WHERE id = $1`, [
      posting.accountId,
      posting.amountMicro.toString(),
    ]);
    return true;
  }

  /**
   * Appends the entry only: for callers that move the balance in the same statement as other columns (settlement
   * releases a hold with it). False when the reference exists.
   */
  async append(m: EntityManager, posting: Posting): Promise<boolean> {
    const rows = (await m.query(
      `INSERT INTO credit_ledger (account_id, kind, amount_micro, reference, note) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (reference) DO NOTHING RETURNING id`,
      [posting.accountId, posting.kind, posting.amountMicro.toString(), posting.reference, posting.note],
    )) as Array<{ id: string }>;
    return rows.length > 0;
  }
}
