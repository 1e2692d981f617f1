import { Body, Controller, Delete, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ErrorCode } from '../common/errors.js';
import {
  ACCOUNT_ERRORS,
  ApiErrors,
  API_KEY_AUTH,
  BODY_ERRORS,
  SERVER_ERRORS,
  SESSION_AUTH,
} from '../common/openapi.js';
import { Auth, type AuthContext } from '../keys/auth-context.js';
import { AccountAuthGuard } from '../keys/guards.js';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard.js';
import { AccountSummaryDto, PasswordDto } from './admin.dto.js';
import { AdminService, type AccountSummary } from './admin.service.js';

/** The owner's own deletion. */
@ApiTags('auth')
@ApiBearerAuth(SESSION_AUTH)
@ApiBearerAuth(API_KEY_AUTH)
@UseGuards(AccountAuthGuard, RateLimitGuard)
@Controller('v1/account')
export class AccountController {
  constructor(private readonly admin: AdminService) {}

  @Delete()
  @ApiOperation({
    summary: 'Delete your account: every key revoked at once, sessions ended, data purged within 30 days',
    description: 'Confirmed with the password. Support can cancel it before the purge.',
  })
  @ApiResponse({ status: 200, type: AccountSummaryDto })
  @ApiErrors(
    ...ACCOUNT_ERRORS,
    { error: ErrorCode.InvalidCredentials, message: 'The password is wrong.', when: 'A wrong password.' },
    ...BODY_ERRORS,
    ...SERVER_ERRORS,
  )
  delete(
    @Auth() auth: AuthContext,
    @Body() body: PasswordDto,
    @Req() request: FastifyRequest,
  ): Promise<AccountSummary> {
    return this.admin.deleteOwnAccount(auth, body.password, request.id);
  }
}
