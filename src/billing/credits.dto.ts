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

export class SubscriptionDto {
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'active',
    description: "The Stripe subscription's status (`active`, `past_due`, `canceled`, …); null without one.",
  })
  status!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    format: 'date-time',
    description:
      'When the subscription renews (the allocation resets then); null without a live subscription.',
  })
  next_billing_date!: string | null;
  @ApiProperty({ description: 'The subscription ends at the end of this period.' })
  cancel_at_period_end!: boolean;
  @ApiProperty({
    type: String,
    nullable: true,
    enum: ['free', 'power', 'pro'],
    description: 'The plan from the next period on, when it changes (a downgrade or a cancellation).',
  })
  plan_at_period_end!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    format: 'date-time',
    description:
      'Since when the renewal payment has been failing (live calls get 402 after `PAYMENT_GRACE_DAYS`).',
  })
  payment_overdue_since!: string | null;
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
  @ApiProperty({
    description:
      'Credits used past the allocation and the purchased credits this period (paid plans: billed by Stripe)',
  })
  overage!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'USD per overage credit (null: Free plan stops at 402)',
  })
  overage_price_usd_per_credit!: string | null;
  @ApiProperty({ description: 'The overage so far this period, in US dollars', example: '0' })
  overage_usd!: string;
  @ApiProperty({
    description: 'Purchased (pack) credits left: they do not expire at the period reset',
    example: '0',
  })
  purchased!: string;
  @ApiProperty({
    type: [String],
    example: ['allocation', 'purchased'],
    description:
      "The order credits are spent in: the period's allocation first, then purchased credits, then overage.",
  })
  spend_order!: string[];
  @ApiProperty({ type: SubscriptionDto }) subscription!: SubscriptionDto;
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
    overage_usd: '0',
    purchased: '0',
    spend_order: ['allocation', 'purchased'],
    subscription: {
      status: null,
      next_billing_date: null,
      cancel_at_period_end: false,
      plan_at_period_end: null,
      payment_overdue_since: null,
    },
    by_model: [{ model: 'gpt-6-luna', requests: 2, credits: '0.00084' }],
  },
};
