import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { bigintTransformer } from '../database/bigint.transformer.js';

export const LEDGER_KINDS = ['grant', 'usage', 'adjustment', 'reset', 'refund', 'purchase', 'plan'] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

/** One append-only, signed movement of micro-credits. An account's balance is the sum of its entries. */
@Entity('credit_ledger')
export class LedgerEntry {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column('uuid', { name: 'account_id' })
  accountId!: string;

  @Column('text')
  kind!: LedgerKind;

  @Column('bigint', { name: 'amount_micro', transformer: bigintTransformer })
  amountMicro!: bigint;

  @Column('text')
  reference!: string;

  @Column('text', { nullable: true })
  note!: string | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;
}
