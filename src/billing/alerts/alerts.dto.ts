import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Allow } from 'class-validator';

class ThresholdsDto {
  @ApiProperty({ description: 'Free plan: 80 % of the period’s included credits used.' }) usage_80!: boolean;
  @ApiProperty({ description: 'Free plan: 95 % used.' }) usage_95!: boolean;
  @ApiProperty({ description: 'Free plan: 100 % used (live requests get 402 from now).' })
  usage_100!: boolean;
  @ApiProperty({ description: 'Paid plans: the account went past its included credits (overage).' })
  overage!: boolean;
  @ApiProperty({ description: 'A key reached 90 % of its `credit_limit`.' }) key_limit_90!: boolean;
}

export class AlertSettingsDto {
  @ApiProperty({ enum: ['alert_settings'] }) object!: 'alert_settings';
  @ApiProperty({ type: ThresholdsDto }) thresholds!: ThresholdsDto;
  @ApiProperty({ type: String, nullable: true, format: 'uri' }) alert_webhook_url!: string | null;
  @ApiProperty({
    description:
      'Signs every webhook: `Conflux-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.',
  })
  webhook_secret!: string;
}

export class UpdateAlertSettingsDto {
  @ApiPropertyOptional({
    type: Object,
    example: { usage_80: false },
    description:
      'Alerts to switch on (`true`) or off (`false`): usage_80, usage_95, usage_100, overage, key_limit_90.',
  })
  @Allow()
  thresholds?: Record<string, unknown>;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    example: 'https://example.com/hooks/conflux',
    description:
      'Receives each alert as signed JSON (POST). http(s) only, public addresses only; `null` removes it.',
  })
  @Allow()
  alert_webhook_url?: string | null;
}

const settings = {
  object: 'alert_settings',
  thresholds: { usage_80: true, usage_95: true, usage_100: true, overage: true, key_limit_90: true },
  alert_webhook_url: 'https://example.com/hooks/conflux',
  webhook_secret: 'whsec_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX',
};

export const ALERT_EXAMPLES = {
  settings: { summary: 'Alert settings', value: settings },
  updated: {
    summary: 'The 80 % alert switched off',
    value: { ...settings, thresholds: { ...settings.thresholds, usage_80: false } },
  },
};
