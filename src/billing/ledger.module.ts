import { Module } from '@nestjs/common';
import { LedgerWriter } from './ledger.writer.js';

/**
 * The ledger writer on its own, so the accounts module can record the sign-up grant in its own transaction
 * without depending on the rest of billing (which depends on accounts through the auth guards).
 */
@Module({ providers: [LedgerWriter], exports: [LedgerWriter] })
export class LedgerModule {}
