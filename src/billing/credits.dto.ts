import { ApiProperty } from '@nestjs/swagger';

/** The reference of `GET /v1/credits` (documentation only: `CreditsService` builds the answer). */

export class PeriodDto {
  @ApiProperty({ format: 'date-time' }) start!: string;
  @ApiProperty({ format: 'date-time' }) end!: string;
}

export class ModelUseDto {
  @ApiProperty({ example: 'gpt-6-luna' }) model!: string;
  @ApiProperty({ example: 2 }) requests!: number;
  @ApiProperty({ description: 'Credits spent on it this period.', example: '0.00084' }) credits!: string;
}

export class CreditsDto {
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

/** A real answer: a Free account after two small live requests. */
export const CREDITS_EXAMPLE = {
  summary: 'A Free account after two requests',
  value: {
    object: 'credits',
    plan: 'free',
    balance: '499.99916',
    held: '0',
    period: { start: '2026-11-30T04:22:59.235Z', end: '2026-12-30T04:22:59.235Z' },
    included: '500',
    used: '0.00084',
    overage: '0',
    overage_price_usd_per_credit: null,
    by_model: [{ model: 'gpt-6-luna', requests: 2, credits: '0.00084' }],
  },
};
