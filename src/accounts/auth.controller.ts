import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ErrorCode } from '../common/errors.js';
import { ApiErrors, BODY_ERRORS, SERVER_ERRORS, type ErrorExample } from '../common/openapi.js';
import { AccountsService, type Session } from './accounts.service.js';
import { AuthRateLimitGuard } from './auth-rate-limit.guard.js';
import { CredentialsDto, SESSION_EXAMPLE, SessionDto } from './auth.dto.js';

/** What both routes answer besides their own: the per-address limit, a bad body, the instance. */
const AUTH_ERRORS: ErrorExample[] = [
  {
    error: ErrorCode.InvalidRequest,
    message: 'email must be a valid email address',
    param: 'email',
    when: 'A field missing or invalid.',
  },
  {
    error: ErrorCode.InvalidRequest,
    name: 'password',
    message: 'password must be at least 8 characters',
    param: 'password',
    when: 'A password shorter than 8 characters.',
  },
  {
    error: ErrorCode.RateLimitExceeded,
    message: 'Too many sign-up or login attempts from this address. Try again in 42s.',
    when: 'Too many attempts from this address (`AUTH_RATE_LIMIT_RPM` a minute): wait `retry-after` seconds.',
  },
  ...BODY_ERRORS,
  ...SERVER_ERRORS,
];

@ApiTags('auth')
@UseGuards(AuthRateLimitGuard)
@Controller('auth')
export class AuthController {
  constructor(private readonly accounts: AccountsService) {}

  @Post('signup')
  @ApiOperation({ summary: 'Create a dashboard account (Free plan, 500 credits) and get a session token' })
  @ApiResponse({ status: 201, type: SessionDto, examples: { session: SESSION_EXAMPLE } })
  @ApiErrors(...AUTH_ERRORS, {
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
  @ApiOperation({ summary: 'Log in and get a short-lived session token' })
  @ApiResponse({ status: 200, type: SessionDto, examples: { session: SESSION_EXAMPLE } })
  @ApiErrors(ErrorCode.InvalidCredentials, ...AUTH_ERRORS, {
    error: ErrorCode.PermissionDenied,
    message: 'This account is suspended.',
    when: 'The account is suspended or pending deletion.',
  })
  login(@Body() body: CredentialsDto): Promise<Session> {
    return this.accounts.login(body.email, body.password);
  }
}
