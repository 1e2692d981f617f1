import { Module } from '@nestjs/common';
import { KeysModule } from '../keys/keys.module.js';
import { BillingRepository } from './billing.repository.js';
import { CreditsController } from './credits.controller.js';
import { CreditsService } from './credits.service.js';
import { IdempotencyService } from './idempotency.service.js';
import { MeteringService } from './metering.service.js';

@Module({
  imports: [KeysModule],
  controllers: [CreditsController],
  providers: [BillingRepository, MeteringService, CreditsService, IdempotencyService],
  exports: [MeteringService, BillingRepository, IdempotencyService],
})
export class BillingModule {}
