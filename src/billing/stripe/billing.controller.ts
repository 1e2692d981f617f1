import { Body, Controller, Headers, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ErrorCode } from '../../common/errors.js';
import { RAW_BODY, type RawBodyRequest } from '../../common/json-body.js';
import {
  ACCOUNT_ERRORS,
  API_KEY_AUTH,
  ApiErrors,
  BODY_ERRORS,
  type ErrorExample,
  SERVER_ERRORS,
  SESSION_AUTH,
} from '../../common/openapi.js';
import { Auth, type AuthContext } from '../../keys/auth-context.js';
import { AccountAuthGuard } from '../../keys/guards.js';
import { RateLimitGuard } from '../../rate-limit/rate-limit.guard.js';
import { CheckoutDto, CheckoutSessionDto, PortalSessionDto, WebhookAckDto } from './billing.dto.js';
import { StripeBillingService } from './stripe-billing.service.js';

const NOT_CONFIGURED: ErrorExample = {
  error: ErrorCode.ServiceUnavailable,
  name: 'billing_not_configured',
  code: 'billing_not_configured',
  message: 'Billing is not configured on this gateway (no STRIPE_SECRET_KEY).',
  when: 'The gateway runs without Stripe (`STRIPE_SECRET_KEY` unset).',
  headers: [],
};
const STRIPE_FAILED: ErrorExample = {
  error: ErrorCode.UpstreamError,
  name: 'stripe_error',
  message: 'Stripe could not be reached or refused: …',
  when: 'Stripe could not be reached or refused the request.',
};

@ApiTags('billing')
@ApiBearerAuth(SESSION_AUTH)
@ApiBearerAuth(API_KEY_AUTH)
@UseGuards(AccountAuthGuard, RateLimitGuard)
@Controller('v1/billing')
export class BillingController {
  constructor(private readonly billing: StripeBillingService) {}

  @Post('checkout')
  @HttpCode(200)
  @ApiOperation({
    summary: 'A Stripe Checkout page: subscribe to Power or Pro, or buy a pack of credits',
    description:
      '`{"plan":"power"|"pro"}` (subscription) or `{"pack":1000}` (one-time payment of a pack in `CREDIT_PACKS`). ' +
      'The plan or the credits are applied when Stripe confirms the payment (webhook). Card data never reaches ' +
      'the gateway.',
  })
  @ApiResponse({ status: 200, type: CheckoutSessionDto })
  @ApiErrors(
    ...ACCOUNT_ERRORS,
    ...BODY_ERRORS,
    { error: ErrorCode.InvalidRequest, message: 'Unknown plan "gold": "power" or "pro".', param: 'plan' },
    {
      error: ErrorCode.InvalidRequest,
      name: 'unknown_pack',
      message: 'Unknown pack 7: packs of 1000, 5000 credits.',
      param: 'pack',
      when: 'A pack size that is not on sale.',
    },
    { error: ErrorCode.Conflict, message: 'The account is on the power plan already.', param: 'plan' },
    STRIPE_FAILED,
    NOT_CONFIGURED,
    ...SERVER_ERRORS,
  )
  checkout(@Auth() auth: AuthContext, @Body() body: CheckoutDto): Promise<CheckoutSessionDto> {
    return this.billing.checkout(auth, body);
  }

  @Post('portal')
  @HttpCode(200)
  @ApiOperation({ summary: 'A Stripe Customer Portal page: change plan, cancel, update the payment method' })
  @ApiResponse({ status: 200, type: PortalSessionDto })
  @ApiErrors(
    ...ACCOUNT_ERRORS,
    ...BODY_ERRORS,
    {
      error: ErrorCode.NotFound,
      message:
        'The account has no billing profile yet: subscribe or buy credits first (POST /v1/billing/checkout).',
      when: 'The account never went through Checkout.',
    },
    STRIPE_FAILED,
    NOT_CONFIGURED,
    ...SERVER_ERRORS,
  )
  portal(@Auth() auth: AuthContext): Promise<PortalSessionDto> {
    return this.billing.portal(auth);
  }
}

@ApiTags('billing')
@Controller('webhooks')
export class StripeWebhookController {
  constructor(private readonly billing: StripeBillingService) {}

  @Post('stripe')
  // the signature is checked over the exact bytes received
  @RouteConfig(RAW_BODY)
  @HttpCode(200)
  @ApiOperation({
    summary: 'Stripe webhook endpoint (signed by Stripe; each event applied once)',
    description:
      'Events: `checkout.session.completed|async_payment_succeeded`, `customer.subscription.created|updated|deleted`, ' +
      '`invoice.paid`, ' +
      '`invoice.payment_failed`; others are acknowledged and ignored.',
  })
  @ApiResponse({ status: 200, type: WebhookAckDto })
  @ApiErrors(
    ...BODY_ERRORS,
    {
      error: ErrorCode.InvalidRequest,
      name: 'invalid_signature',
      message: 'Webhook signature verification failed: …',
      param: 'stripe-signature',
      when: 'A missing, wrong or stale (over 300 s) signature, or a body that is not the one signed.',
    },
    STRIPE_FAILED,
    NOT_CONFIGURED,
    ...SERVER_ERRORS,
  )
  webhook(
    @Req() request: RawBodyRequest,
    @Headers('stripe-signature') signature: string | undefined,
  ): Promise<WebhookAckDto> {
    return this.billing.webhook(request.rawBody, signature);
  }
}
