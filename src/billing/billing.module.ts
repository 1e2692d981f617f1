import { Module } from '@nestjs/common';
import { KeysModule } from '../keys/keys.module.js';
import { BillingRepository } from './billing.repository.js';
import { CreditsController } from './credits.controller.js';
import { CreditsService } from './credits.service.js';
import { IdempotencyRepository } from './idempotency.repository.js';
import { IdempotencyService } from './idempotency.service.js';
import { LeaseBook } from './lease-book.js';
import { LeasesRepository } from './leases.repository.js';
import { LedgerModule } from './ledger.module.js';
import { MeteringService } from './metering.service.js';
import { SettlementBatcher } from './settlement.batcher.js';
import { SettlementRepository } from './settlement.repository.js';

/** Credits: admission against leases, batched settlement, the ledger, billing periods, Idempotency-Key. */
@Module({
  imports: [KeysModule, LedgerModule],
  controllers: [CreditsController],
  providers: [
    BillingRepository,
    MeteringService,
    CreditsService,
    IdempotencyService,
    IdempotencyRepository,
    LeasesRepository,
    LeaseBook,
    SettlementRepository,
    SettlementBatcher,
  ],
  exports: [MeteringService, IdempotencyService],
})
export class BillingModule {}
