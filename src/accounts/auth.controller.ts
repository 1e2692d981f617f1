import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ErrorDto } from '../common/openapi.js';
import { AccountsService, type Session } from './accounts.service.js';
import { AuthRateLimitGuard } from './auth-rate-limit.guard.js';
import { CredentialsDto, SessionDto } from './auth.dto.js';

@ApiTags('auth')
@ApiResponse({ status: 429, type: ErrorDto, description: 'Too many attempts from this address' })
@UseGuards(AuthRateLimitGuard)
@Controller('auth')
export class AuthController {
  constructor(private readonly accounts: AccountsService) {}

  @Post('signup')
  @ApiOperation({ summary: 'Create a dashboard account (Free plan, 500 credits) and get a session token' })
  @ApiResponse({ status: 201, type: SessionDto })
  @ApiResponse({ status: 400, type: ErrorDto })
  @ApiResponse({ status: 409, type: ErrorDto, description: 'Email already registered' })
  signup(@Body() body: CredentialsDto): Promise<Session> {
    return this.accounts.signup(body.email, body.password);
  }

  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Log in and get a short-lived session token' })
  @ApiResponse({ status: 200, type: SessionDto })
  @ApiResponse({ status: 400, type: ErrorDto })
  @ApiResponse({ status: 401, type: ErrorDto })
  login(@Body() body: CredentialsDto): Promise<Session> {
    return this.accounts.login(body.email, body.password);
  }
}
