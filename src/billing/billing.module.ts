import { Module } from '@nestjs/common';
import { KeysModule } from '../keys/keys.module.js';
import { BillingRepository } from './billing.repository.js';
import { CreditsController } from './credits.controller.js';
import { CreditsService } from './credits.service.js';
import { IdempotencyRepository } from './idempotency.repository.js';
import { IdempotencyService } from './idempotency.service.js';
import { LedgerModule } from './ledger.module.js';
import { MeteringService } from './metering.service.js';

@Module({
  imports: [KeysModule, LedgerModule],
  controllers: [CreditsController],
  providers: [BillingRepository, MeteringService, CreditsService, IdempotencyService, IdempotencyRepository],
  exports: [MeteringService, IdempotencyService],
})
export class BillingModule {}
