import { Module } from '@nestjs/common';
import { AuditLog } from '../admin/audit.js';
import { LedgerModule } from '../billing/ledger.module.js';
import { AccountsRepository } from './accounts.repository.js';
import { AccountsService } from './accounts.service.js';
import { AuthRateLimitGuard } from './auth-rate-limit.guard.js';
import { AuthController } from './auth.controller.js';
import { PasswordService } from './password.service.js';
import { SessionGuard } from './session.guard.js';
import { SessionsRepository } from './sessions.repository.js';
import { TokensRepository } from './tokens.repository.js';
import { VerificationService } from './verification.service.js';

@Module({
  imports: [LedgerModule],
  controllers: [AuthController],
  providers: [
    AccountsRepository,
    AccountsService,
    AuthRateLimitGuard,
    AuditLog,
    PasswordService,
    SessionGuard,
    SessionsRepository,
    TokensRepository,
    VerificationService,
  ],
  exports: [AccountsService],
})
export class AccountsModule {}
