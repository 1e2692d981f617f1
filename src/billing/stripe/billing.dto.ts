import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString } from 'class-validator';

export class CheckoutDto {
  @ApiPropertyOptional({
    enum: ['power', 'pro'],
    description: 'Subscribe to a plan (send `plan` or `pack`).',
  })
  @IsOptional()
  @IsString({ message: 'plan must be "power" or "pro"' })
  plan?: string;

  @ApiPropertyOptional({
    example: 1000,
    description: 'Buy a pack of this many credits, one of `CREDIT_PACKS` (send `plan` or `pack`).',
  })
  @IsOptional()
  @IsInt({ message: 'pack must be a whole number of credits' })
  pack?: number;
}

export class CheckoutSessionDto {
  @ApiProperty({ example: 'cs_test_a1B2c3' }) id!: string;
  @ApiProperty({ description: 'Stripe Checkout page: send the customer there.' }) url!: string;
}

export class PortalSessionDto {
  @ApiProperty({ description: 'Stripe Customer Portal: change plan, cancel, update the payment method.' })
  url!: string;
}

export class WebhookAckDto {
  @ApiProperty({ enum: [true] }) received!: true;
}
