import { Module } from '@nestjs/common';
import { BillingModule } from '../billing/billing.module.js';
import { HealthModule } from '../health/health.module.js';
import { KeysModule } from '../keys/keys.module.js';
import { AccountController } from './account.controller.js';
import {
  AdminAccountsController,
  AdminAuditController,
  AdminKeysController,
  AdminProvidersController,
  AdminStaffController,
} from './admin.controller.js';
import { AdminService } from './admin.service.js';
import { AuditLog } from './audit.js';
import { AlertsModule } from '../billing/alerts/alerts.module.js';
import { PurgeService } from './purge.service.js';
import { StaffGuard } from './staff.guard.js';
import { StripeSubscriptions } from './stripe-subscriptions.js';
import { SubscriptionPort } from './subscription.port.js';

/**
 * Support staff under `/admin` (one staff guard on every controller), the owner's `DELETE /v1/account`, the audit
 * log and the purge of deleted accounts. `SubscriptionPort` is where Stripe plugs in (no subscriptions without it).
 */
@Module({
  imports: [KeysModule, BillingModule, HealthModule, AlertsModule],
  controllers: [
    AdminAccountsController,
    AdminKeysController,
    AdminProvidersController,
    AdminStaffController,
    AdminAuditController,
    AccountController,
  ],
  providers: [
    AdminService,
    AuditLog,
    PurgeService,
    StaffGuard,
    { provide: SubscriptionPort, useClass: StripeSubscriptions },
  ],
})
export class AdminModule {}
