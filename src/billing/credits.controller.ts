import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProperty, ApiResponse, ApiTags } from '@nestjs/swagger';
import { API_KEY_AUTH, ErrorDto, SESSION_AUTH } from '../common/openapi.js';
import { Auth, type AuthContext } from '../keys/auth-context.js';
import { AccountAuthGuard } from '../keys/guards.js';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard.js';
import { CreditsService, type CreditsView } from './credits.service.js';

class PeriodDto {
  @ApiProperty({ format: 'date-time' }) start!: string;
  @ApiProperty({ format: 'date-time' }) end!: string;
}

class ModelUseDto {
  @ApiProperty() model!: string;
  @ApiProperty() requests!: number;
  @ApiProperty({ example: '12.5' }) credits!: string;
}

class CreditsDto {
  @ApiProperty({ enum: ['credits'] }) object!: 'credits';
  @ApiProperty({ enum: ['free', 'power', 'pro'] }) plan!: string;
  @ApiProperty({
    description: 'Credits left in this period (negative past the allocation: overage)',
    example: '487.25',
  })
  balance!: string;
  @ApiProperty({ description: 'Credits held by requests in flight' }) held!: string;
  @ApiProperty({ type: PeriodDto }) period!: PeriodDto;
  @ApiProperty({ description: 'Credits included per period' }) included!: string;
  @ApiProperty({ description: 'Credits used this period' }) used!: string;
  @ApiProperty({ description: 'Credits used past the allocation this period' }) overage!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'USD per overage credit (null: Free plan stops at 402)',
  })
  overage_price_usd_per_credit!: string | null;
  @ApiProperty({ type: [ModelUseDto] }) by_model!: ModelUseDto[];
}

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
  @ApiResponse({ status: 200, type: CreditsDto })
  @ApiResponse({ status: 401, type: ErrorDto })
  get(@Auth() auth: AuthContext): Promise<CreditsView> {
    return this.credits.credits(auth.accountId);
  }
}
