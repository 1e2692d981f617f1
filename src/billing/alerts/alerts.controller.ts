import { Body, Controller, Get, HttpCode, Patch, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ErrorCode } from '../../common/errors.js';
import {
  ACCOUNT_ERRORS,
  API_KEY_AUTH,
  ApiErrors,
  BODY_ERRORS,
  SERVER_ERRORS,
  SESSION_AUTH,
} from '../../common/openapi.js';
import { Auth, type AuthContext } from '../../keys/auth-context.js';
import { AccountAuthGuard } from '../../keys/guards.js';
import { RateLimitGuard } from '../../rate-limit/rate-limit.guard.js';
import { ALERT_EXAMPLES, AlertSettingsDto, UpdateAlertSettingsDto } from './alerts.dto.js';
import { AlertsService, type AlertSettingsView } from './alerts.service.js';

@ApiTags('alerts')
@ApiBearerAuth(SESSION_AUTH)
@ApiBearerAuth(API_KEY_AUTH)
@UseGuards(AccountAuthGuard, RateLimitGuard)
@Controller('v1/alerts')
export class AlertsController {
  constructor(private readonly alerts: AlertsService) {}

  @Get()
  @ApiOperation({
    summary: 'Alert settings: which alerts are on, the webhook, and the secret that signs it',
    description:
      'Alerts fire once per billing period each: 80 %, 95 %, 100 % of a Free account’s included credits, a paid ' +
      'account entering overage, a key at 90 % of its credit limit. They are mailed to the account (when mail ' +
      'is configured) and POSTed to `alert_webhook_url` as signed JSON, retried with backoff until accepted.',
  })
  @ApiResponse({ status: 200, type: AlertSettingsDto, examples: { settings: ALERT_EXAMPLES.settings } })
  @ApiErrors(...ACCOUNT_ERRORS, ...SERVER_ERRORS)
  get(@Auth() auth: AuthContext): Promise<AlertSettingsView> {
    return this.alerts.settings(auth.accountId);
  }

  @Patch()
  @ApiOperation({ summary: 'Switch alerts on or off, set or remove the webhook' })
  @ApiResponse({ status: 200, type: AlertSettingsDto, examples: { updated: ALERT_EXAMPLES.updated } })
  @ApiErrors(
    {
      error: ErrorCode.InvalidRequest,
      name: 'alert_webhook_url',
      message: 'alert_webhook_url must be a public address (not loopback, private or link-local).',
      param: 'alert_webhook_url',
      when: 'A URL that is not http(s) or points inside a private network.',
    },
    {
      error: ErrorCode.InvalidRequest,
      name: 'thresholds',
      message:
        'thresholds.usage_50 is not an alert: use usage_80, usage_95, usage_100, overage, key_limit_90.',
      param: 'thresholds.usage_50',
      when: 'An unknown alert name.',
    },
    ...ACCOUNT_ERRORS,
    ...BODY_ERRORS,
    ...SERVER_ERRORS,
  )
  update(@Auth() auth: AuthContext, @Body() body: UpdateAlertSettingsDto): Promise<AlertSettingsView> {
    return this.alerts.update(auth.accountId, body);
  }

  @Post('webhook-secret')
  @HttpCode(200)
  @ApiOperation({ summary: 'Replace the webhook signing secret (the old one stops signing at once)' })
  @ApiResponse({ status: 200, type: AlertSettingsDto, examples: { settings: ALERT_EXAMPLES.settings } })
  @ApiErrors(...ACCOUNT_ERRORS, ...BODY_ERRORS, ...SERVER_ERRORS)
  rollSecret(@Auth() auth: AuthContext): Promise<AlertSettingsView> {
    return this.alerts.rollSecret(auth.accountId);
  }
}
