import { Body, Controller, Delete, Get, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ErrorCode } from '../common/errors.js';
import {
  ACCOUNT_ERRORS,
  API_KEY_AUTH,
  ApiErrors,
  BODY_ERRORS,
  SERVER_ERRORS,
  SESSION_AUTH,
} from '../common/openapi.js';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard.js';
import { Auth, type AuthContext } from './auth-context.js';
import { AccountAuthGuard } from './guards.js';
import { CreateKeyDto, CreatedKeyDto, KEY_EXAMPLES, KeyDto, KeyListDto } from './keys.dto.js';
import { KeysService, type CreatedKey, type KeyView } from './keys.service.js';

@ApiTags('keys')
@ApiBearerAuth(SESSION_AUTH)
@ApiBearerAuth(API_KEY_AUTH)
@UseGuards(AccountAuthGuard, RateLimitGuard)
@Controller('v1/keys')
export class KeysController {
  constructor(private readonly keys: KeysService) {}

  @Post()
  @ApiOperation({ summary: 'Create an API key; the raw key is in the answer once' })
  @ApiResponse({
    status: 201,
    type: CreatedKeyDto,
    examples: { live: KEY_EXAMPLES.created, test: KEY_EXAMPLES.created_test },
  })
  @ApiErrors(
    { error: ErrorCode.InvalidRequest, message: 'kind must be "live" or "test"', param: 'kind' },
    {
      error: ErrorCode.InvalidRequest,
      name: 'unknown_property',
      message: 'Unrecognized request argument supplied: admin',
      param: 'admin',
      when: 'A field the body does not have.',
    },
    {
      error: ErrorCode.InvalidRequest,
      name: 'expires_at',
      message: 'expires_at must be in the future.',
      param: 'expires_at',
      when: 'An expiry in the past.',
    },
    ...ACCOUNT_ERRORS,
    ...BODY_ERRORS,
    ...SERVER_ERRORS,
  )
  create(@Auth() auth: AuthContext, @Body() body: CreateKeyDto): Promise<CreatedKey> {
    return this.keys.create(auth.accountId, { name: body.name, kind: body.kind, expiresAt: body.expires_at });
  }

  @Get()
  @ApiOperation({ summary: "List the account's keys (never the raw keys)" })
  @ApiResponse({ status: 200, type: KeyListDto, examples: { keys: KEY_EXAMPLES.list } })
  @ApiErrors(...ACCOUNT_ERRORS, ...SERVER_ERRORS)
  async list(@Auth() auth: AuthContext): Promise<{ object: 'list'; data: KeyView[] }> {
    return { object: 'list', data: await this.keys.list(auth.accountId) };
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Revoke a key: it stops working on every instance within a second' })
  @ApiResponse({ status: 200, type: KeyDto, examples: { revoked: KEY_EXAMPLES.revoked } })
  @ApiErrors(...ACCOUNT_ERRORS, ...SERVER_ERRORS, {
    error: ErrorCode.NotFound,
    message: 'No API key with id key_3AYGBYcR3pmssam8xKLX3bVJ.',
    param: 'id',
    when: 'No key with this id in the account.',
  })
  revoke(@Auth() auth: AuthContext, @Param('id') id: string): Promise<KeyView> {
    return this.keys.revoke(auth.accountId, id);
  }
}
