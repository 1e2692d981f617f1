import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module.js';
import { KeysModule } from '../keys/keys.module.js';
import { AdjustmentsService } from './adjustments.service.js';
import { BillingRepository } from './billing.repository.js';
import { CreditsController } from './credits.controller.js';
import { CreditsService } from './credits.service.js';
import { IdempotencyRepository } from './idempotency.repository.js';
import { IdempotencyService } from './idempotency.service.js';
import { SettlementJournal } from './journal.js';
import { LeaseBook } from './lease-book.js';
import { LeasesRepository } from './leases.repository.js';
import { LedgerModule } from './ledger.module.js';
import { MeteringService } from './metering.service.js';
import { InflightRegistry } from './reconciler.js';
import { SettlementBatcher } from './settlement.batcher.js';
import { SettlementRepository } from './settlement.repository.js';

/**
 * Credits: admission against leases, batched settlement written ahead to a journal, reconciliation of stopped
 * instances, the ledger, billing periods, Idempotency-Key.
 */
@Module({
  imports: [KeysModule, LedgerModule, CatalogModule],
  controllers: [CreditsController],
  providers: [
    AdjustmentsService,
    BillingRepository,
    MeteringService,
    CreditsService,
    IdempotencyService,
    IdempotencyRepository,
    LeasesRepository,
    LeaseBook,
    SettlementRepository,
    SettlementBatcher,
    SettlementJournal,
    InflightRegistry,
  ],
  exports: [MeteringService, IdempotencyService, AdjustmentsService, CreditsService],
})
export class BillingModule {}
