import { Module } from '@nestjs/common';
import { AccountsModule } from '../accounts/accounts.module.js';
import { AuditLog } from '../admin/audit.js';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard.js';
import { AccountAuthGuard, ApiKeyGuard } from './guards.js';
import { KeysController } from './keys.controller.js';
import { KeysRepository } from './keys.repository.js';
import { KeysService } from './keys.service.js';

/** API keys, the auth guards built on them, and the per-key rate limit that follows them. */
@Module({
  imports: [AccountsModule],
  controllers: [KeysController],
  providers: [KeysRepository, KeysService, AuditLog, ApiKeyGuard, AccountAuthGuard, RateLimitGuard],
  exports: [KeysService, ApiKeyGuard, AccountAuthGuard, RateLimitGuard, AccountsModule],
})
export class KeysModule {}
