import { Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ErrorCode } from '../common/errors.js';
import { ApiErrors, BODY_ERRORS, SERVER_ERRORS, SESSION_AUTH, type ErrorExample } from '../common/openapi.js';
import { Auth, type AuthContext } from '../keys/auth-context.js';
import { AccountsService, type LogoutAllResult, type Session } from './accounts.service.js';
import { AuthRateLimitGuard } from './auth-rate-limit.guard.js';
import {
  ChangePasswordDto,
  CredentialsDto,
  ForgotAnswerDto,
  ForgotPasswordDto,
  LoginDto,
  LogoutAllDto,
  PasswordChangeDto,
  ResendDto,
  ResetPasswordDto,
  SESSION_EXAMPLE,
  SessionDto,
  TokenDto,
  VerificationDto,
} from './auth.dto.js';
import { PasswordService, type ForgotResult, type PasswordResult } from './password.service.js';
import { SessionGuard } from './session.guard.js';
import { VerificationService, type ResendResult, type VerificationResult } from './verification.service.js';

const AUTH_RATE_LIMITED: ErrorExample = {
  error: ErrorCode.RateLimitExceeded,
  message: 'Too many sign-up or login attempts from this address. Try again in 42s.',
  when: 'Too many attempts from this address (`AUTH_RATE_LIMIT_RPM` a minute): wait `retry-after` seconds.',
};

const WEAK_PASSWORD: ErrorExample[] = [
  {
    error: ErrorCode.InvalidRequest,
    name: 'password',
    message: 'password must be at least 12 characters',
    param: 'password',
    when: 'A password shorter than 12 characters (or longer than 256).',
  },
  {
    error: ErrorCode.InvalidRequest,
    name: 'common_password',
    message: 'password is too common: choose one that is not on lists of common passwords',
    param: 'password',
    when: 'One of the 10,000 most common passwords, or one of them with digits or symbols added at the end.',
  },
];

/** What sign-up and log-in answer besides their own: the per-address limit, a bad body, the instance. */
const AUTH_ERRORS: ErrorExample[] = [
  {
    error: ErrorCode.InvalidRequest,
    message: 'email must be a valid email address',
    param: 'email',
    when: 'A field missing or invalid.',
  },
  AUTH_RATE_LIMITED,
  ...BODY_ERRORS,
  ...SERVER_ERRORS,
];

const INVALID_TOKEN = (what: string): ErrorExample => ({
  error: ErrorCode.InvalidRequest,
  name: 'invalid_token',
  message: `This ${what} link is invalid, was used already, or has expired.`,
  param: 'token',
  code: 'invalid_token',
  when: 'An unknown token, one used already, or one past its validity.',
});

const MAIL_UNAVAILABLE: ErrorExample = {
  error: ErrorCode.ServiceUnavailable,
  name: 'mail_unavailable',
  message:
    'Password reset is unavailable: this gateway sends no mail (SMTP_URL is not set). Ask its operator.',
  code: 'mail_unavailable',
  when: 'The gateway has no SMTP server configured (`SMTP_URL`).',
};

/** What the routes of the session itself answer (log-out, password change, verification mail). */
const SESSION_ERRORS: ErrorExample[] = [
  {
    error: ErrorCode.InvalidApiKey,
    name: 'invalid_session',
    message: 'The session is invalid or has expired. Log in again.',
    when: 'A session token that is invalid, expired or ended (log-out, password change).',
  },
  {
    error: ErrorCode.PermissionDenied,
    message: 'This route takes a dashboard session (POST /auth/login), not an API key.',
    when: 'An API key instead of a session token.',
  },
];

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly accounts: AccountsService,
    private readonly verification: VerificationService,
    private readonly passwords: PasswordService,
  ) {}

  @Post('signup')
  @UseGuards(AuthRateLimitGuard)
  @ApiOperation({
    summary: 'Create a dashboard account (Free plan) and get a session token',
    description:
      'With mail configured, a verification mail is sent; while verification is required (`REQUIRE_EMAIL_VERIFICATION`), ' +
      'live keys answer 403 `email_not_verified` until the link is used, and the 500 free credits come with the ' +
      'verification. The free credits are granted once per address (lower case, no `+tag`, no dots at Gmail).',
  })
  @ApiResponse({ status: 201, type: SessionDto, examples: { session: SESSION_EXAMPLE } })
  @ApiErrors(...AUTH_ERRORS, ...WEAK_PASSWORD, {
    error: ErrorCode.Conflict,
    message: 'An account with this email already exists.',
    param: 'email',
    code: 'email_taken',
    when: 'The email is registered already: log in.',
  })
  signup(@Body() body: CredentialsDto): Promise<Session> {
    return this.accounts.signup(body.email, body.password);
  }

  @Post('login')
  @HttpCode(200)
  @UseGuards(AuthRateLimitGuard)
  @ApiOperation({ summary: 'Log in and get a short-lived session token' })
  @ApiResponse({ status: 200, type: SessionDto, examples: { session: SESSION_EXAMPLE } })
  @ApiErrors(ErrorCode.InvalidCredentials, ...AUTH_ERRORS, {
    error: ErrorCode.PermissionDenied,
    message: 'This account is suspended.',
    when: 'The account is suspended or pending deletion.',
  })
  login(@Body() body: LoginDto): Promise<Session> {
    return this.accounts.login(body.email, body.password);
  }

  @Post('verify')
  @HttpCode(200)
  @UseGuards(AuthRateLimitGuard)
  @ApiOperation({
    summary: 'Verify the email address with the token of the mailed link',
    description:
      'Single use, valid 24 hours. Grants the free credits when the address (normalised) had none yet.',
  })
  @ApiResponse({
    status: 200,
    type: VerificationDto,
    examples: {
      verified: {
        summary: 'Verified, credits granted',
        value: { object: 'email_verification', verified: true, credits_granted: true },
      },
    },
  })
  @ApiErrors(INVALID_TOKEN('verification'), AUTH_RATE_LIMITED, ...BODY_ERRORS, ...SERVER_ERRORS)
  verify(@Body() body: TokenDto, @Req() request: FastifyRequest): Promise<VerificationResult> {
    return this.verification.verify(body.token, request.id);
  }

  @Post('verify/resend')
  @HttpCode(202)
  @ApiBearerAuth(SESSION_AUTH)
  @UseGuards(SessionGuard)
  @ApiOperation({ summary: 'Send the verification mail again (at most one a minute, five a day)' })
  @ApiResponse({
    status: 202,
    type: ResendDto,
    examples: { sent: { summary: 'On its way', value: { object: 'email_verification', sent: true } } },
  })
  @ApiErrors(
    ...SESSION_ERRORS,
    {
      error: ErrorCode.Conflict,
      message: 'This address is verified already.',
      code: 'email_already_verified',
      when: 'Nothing to verify.',
    },
    {
      error: ErrorCode.RateLimitExceeded,
      message: 'At most 1 verification mail a minute: try again in 42s.',
      when: 'One a minute, five a day: wait `retry-after` seconds.',
    },
    {
      ...MAIL_UNAVAILABLE,
      message: MAIL_UNAVAILABLE.message!.replace('Password reset is', 'Verification mails are'),
    },
    ...BODY_ERRORS,
    ...SERVER_ERRORS,
  )
  resend(@Auth() auth: AuthContext): Promise<ResendResult> {
    return this.verification.resend(auth);
  }

  @Post('password/forgot')
  @HttpCode(202)
  @UseGuards(AuthRateLimitGuard)
  @ApiOperation({
    summary: 'Mail a password reset link (the same answer whether or not the address has an account)',
    description: 'At most 3 an hour per address and 10 an hour per client. The link works once, for 1 hour.',
  })
  @ApiResponse({
    status: 202,
    type: ForgotAnswerDto,
    examples: {
      accepted: {
        summary: 'Whatever the address',
        value: {
          object: 'password_reset_request',
          message:
            'If an account uses this address, a link to reset its password is on its way. It works for 1 hour.',
        },
      },
    },
  })
  @ApiErrors(
    {
      error: ErrorCode.InvalidRequest,
      message: 'email must be a valid email address',
      param: 'email',
      when: 'A missing or invalid address.',
    },
    {
      error: ErrorCode.RateLimitExceeded,
      message: 'Too many password reset requests for this email address. Try again in 1800s.',
      when: 'Past 3 an hour for one address or 10 an hour from one client: wait `retry-after` seconds.',
    },
    MAIL_UNAVAILABLE,
    ...BODY_ERRORS,
    ...SERVER_ERRORS,
  )
  forgot(@Body() body: ForgotPasswordDto, @Req() request: FastifyRequest): Promise<ForgotResult> {
    return this.passwords.forgot(body.email, request.ip);
  }

  @Post('password/reset')
  @HttpCode(200)
  @UseGuards(AuthRateLimitGuard)
  @ApiOperation({
    summary: "Set a new password with the reset link's token; every session of the account ends",
  })
  @ApiResponse({
    status: 200,
    type: PasswordChangeDto,
    examples: {
      reset: {
        summary: 'Reset; log in with the new password',
        value: { object: 'password_change', changed: true, sessions_ended: 2 },
      },
    },
  })
  @ApiErrors(
    INVALID_TOKEN('reset'),
    ...WEAK_PASSWORD,
    AUTH_RATE_LIMITED,
    MAIL_UNAVAILABLE,
    ...BODY_ERRORS,
    ...SERVER_ERRORS,
  )
  reset(@Body() body: ResetPasswordDto, @Req() request: FastifyRequest): Promise<PasswordResult> {
    return this.passwords.reset(body.token, body.password, request.id);
  }

  @Post('password/change')
  @HttpCode(200)
  @ApiBearerAuth(SESSION_AUTH)
  @UseGuards(AuthRateLimitGuard, SessionGuard)
  @ApiOperation({
    summary: 'Change the password (the current one confirms it); every other session ends, this one goes on',
  })
  @ApiResponse({
    status: 200,
    type: PasswordChangeDto,
    examples: {
      changed: {
        summary: 'Changed; two other sessions ended',
        value: { object: 'password_change', changed: true, sessions_ended: 2 },
      },
    },
  })
  @ApiErrors(
    ...SESSION_ERRORS,
    {
      error: ErrorCode.InvalidRequest,
      name: 'incorrect_password',
      message: 'The current password is not right.',
      param: 'current_password',
      code: 'incorrect_password',
      when: 'A wrong `current_password`.',
    },
    ...WEAK_PASSWORD,
    AUTH_RATE_LIMITED,
    ...BODY_ERRORS,
    ...SERVER_ERRORS,
  )
  changePassword(
    @Auth() auth: AuthContext,
    @Body() body: ChangePasswordDto,
    @Req() request: FastifyRequest,
  ): Promise<PasswordResult> {
    return this.passwords.change(auth, body.current_password, body.password, request.id);
  }

  @Post('logout')
  @HttpCode(200)
  @ApiBearerAuth(SESSION_AUTH)
  @UseGuards(SessionGuard)
  @ApiOperation({ summary: 'End this session (its token is refused from now on, on every instance)' })
  @ApiResponse({
    status: 200,
    type: LogoutAllDto,
    examples: { ended: { summary: 'This session ended', value: { object: 'logout', sessions_ended: 1 } } },
  })
  @ApiErrors(...SESSION_ERRORS, ...BODY_ERRORS, ...SERVER_ERRORS)
  logout(@Auth() auth: AuthContext, @Req() request: FastifyRequest): Promise<LogoutAllResult> {
    return this.accounts.logout(auth, request.id);
  }

  @Post('logout-all')
  @HttpCode(200)
  @ApiBearerAuth(SESSION_AUTH)
  @UseGuards(SessionGuard)
  @ApiOperation({ summary: 'End every session of the account, this one included' })
  @ApiResponse({
    status: 200,
    type: LogoutAllDto,
    examples: { ended: { summary: 'Three sessions ended', value: { object: 'logout', sessions_ended: 3 } } },
  })
  @ApiErrors(...SESSION_ERRORS, ...BODY_ERRORS, ...SERVER_ERRORS)
  logoutAll(@Auth() auth: AuthContext, @Req() request: FastifyRequest): Promise<LogoutAllResult> {
    return this.accounts.logoutAll(auth, request.id);
  }
}
