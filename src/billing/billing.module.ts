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
import { KeyBudget } from './key-budget.js';
import { LeaseBook } from './lease-book.js';
import { LeasesRepository } from './leases.repository.js';
import { LedgerModule } from './ledger.module.js';
import { MeteringService } from './metering.service.js';
import { InflightRegistry } from './reconciler.js';
import { SettlementBatcher } from './settlement.batcher.js';
import { SettlementRepository } from './settlement.repository.js';
import { BillingController, StripeWebhookController } from './stripe/billing.controller.js';
import { OutboxRepository } from './stripe/outbox.repository.js';
import { OverageReporter } from './stripe/overage.reporter.js';
import { StripeBillingService } from './stripe/stripe-billing.service.js';
import { StripeApi } from './stripe/stripe.api.js';
import { SubscriptionsRepository } from './stripe/subscriptions.repository.js';
import { UsagePublisherModule } from '../usage/usage.publisher.js';

/**
 * Credits: admission against leases, batched settlement written ahead to a journal, reconciliation of stopped
 * instances, the ledger, billing periods, Idempotency-Key; Stripe (checkout, portal, webhooks, overage meter events).
 */
@Module({
  imports: [KeysModule, LedgerModule, CatalogModule, UsagePublisherModule],
  controllers: [CreditsController, BillingController, StripeWebhookController],
  providers: [
    AdjustmentsService,
    BillingRepository,
    MeteringService,
    CreditsService,
    IdempotencyService,
    IdempotencyRepository,
    LeasesRepository,
    LeaseBook,
    KeyBudget,
    SettlementRepository,
    SettlementBatcher,
    SettlementJournal,
    InflightRegistry,
    StripeApi,
    SubscriptionsRepository,
    StripeBillingService,
    OutboxRepository,
    OverageReporter,
  ],
  exports: [MeteringService, IdempotencyService, AdjustmentsService, CreditsService, StripeBillingService],
})
export class BillingModule {}
