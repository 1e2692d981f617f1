import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ACCOUNT_ERRORS, API_KEY_AUTH, ApiErrors, SERVER_ERRORS, SESSION_AUTH } from '../common/openapi.js';
import { Auth, type AuthContext } from '../keys/auth-context.js';
import { AccountAuthGuard } from '../keys/guards.js';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard.js';
import { CREDITS_EXAMPLE, CreditsDto } from './credits.dto.js';
import { CreditsService, type CreditsView } from './credits.service.js';

@ApiTags('billing')
@ApiBearerAuth(SESSION_AUTH)
@ApiBearerAuth(API_KEY_AUTH)
@UseGuards(AccountAuthGuard, RateLimitGuard)
@Controller('v1/credits')
export class CreditsController {
  constructor(private readonly credits: CreditsService) {}

  @Get()
  @ApiOperation({
    summary: 'Credit balance, plan, billing period, allocation, use and overage, use by model',
  })
  @ApiResponse({ status: 200, type: CreditsDto, examples: { free: CREDITS_EXAMPLE } })
  @ApiErrors(...ACCOUNT_ERRORS, ...SERVER_ERRORS)
  get(@Auth() auth: AuthContext): Promise<CreditsView> {
    return this.credits.credits(auth.accountId);
  }
}
