import { Module } from '@nestjs/common';
import { LedgerModule } from '../billing/ledger.module.js';
import { AccountsRepository } from './accounts.repository.js';
import { AccountsService } from './accounts.service.js';
import { AuthRateLimitGuard } from './auth-rate-limit.guard.js';
import { AuthController } from './auth.controller.js';

@Module({
  imports: [LedgerModule],
  controllers: [AuthController],
  providers: [AccountsRepository, AccountsService, AuthRateLimitGuard],
  exports: [AccountsService],
})
export class AccountsModule {}
