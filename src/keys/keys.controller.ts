import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Req, UseGuards } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Actor } from '../admin/audit.js';
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
import {
  CreateKeyDto,
  CreatedKeyDto,
  KEY_EXAMPLES,
  KeyDto,
  KeyListDto,
  RotateKeyDto,
  UpdateKeyDto,
} from './keys.dto.js';
import { KeysService, type CreatedKey, type KeyView } from './keys.service.js';

const NOT_FOUND = {
  error: ErrorCode.NotFound,
  message: 'No API key with id key_3AYGBYcR3pmssam8xKLX3bVJ.',
  param: 'id',
  when: 'No key with this id in the account.',
};

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
  create(
    @Auth() auth: AuthContext,
    @Body() body: CreateKeyDto,
    @Req() request: FastifyRequest,
  ): Promise<CreatedKey> {
    return this.keys.create(
      auth.accountId,
      { name: body.name, kind: body.kind, expiresAt: body.expires_at },
      actor(auth, request),
    );
  }

  @Get()
  @ApiOperation({ summary: "List the account's keys (never the raw keys)" })
  @ApiResponse({ status: 200, type: KeyListDto, examples: { keys: KEY_EXAMPLES.list } })
  @ApiErrors(...ACCOUNT_ERRORS, ...SERVER_ERRORS)
  async list(@Auth() auth: AuthContext): Promise<{ object: 'list'; data: KeyView[] }> {
    return { object: 'list', data: await this.keys.list(auth.accountId) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One key: its settings and its use this billing period' })
  @ApiResponse({ status: 200, type: KeyDto, examples: { key: KEY_EXAMPLES.updated } })
  @ApiErrors(...ACCOUNT_ERRORS, ...SERVER_ERRORS, NOT_FOUND)
  get(@Auth() auth: AuthContext, @Param('id') id: string): Promise<KeyView> {
    return this.keys.get(auth.accountId, id);
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Rename a key, set or clear its credit limit, allowed models and rate limit',
    description:
      'Each field is optional; `null` clears a limit. Every instance applies the new settings within a second. ' +
      'The credit limit counts this billing period’s spend and the holds of requests in flight, exactly, across ' +
      'instances; it starts again on the billing date.',
  })
  @ApiResponse({ status: 200, type: KeyDto, examples: { updated: KEY_EXAMPLES.updated } })
  @ApiErrors(
    {
      error: ErrorCode.InvalidRequest,
      name: 'credit_limit',
      message:
        'credit_limit must be a positive number of credits with at most 6 decimals, such as "25" or "0.5" (or null for no limit).',
      param: 'credit_limit',
      when: 'A credit limit that is not a positive decimal.',
    },
    {
      error: ErrorCode.InvalidRequest,
      name: 'allowed_models',
      message: 'allowed_models[1] is not a model of the catalog: "gpt-9". See GET /v1/models for the ids.',
      param: 'allowed_models[1]',
      when: 'An id that is not in the catalog.',
    },
    {
      error: ErrorCode.InvalidRequest,
      name: 'rate_limit_rpm',
      message: "rate_limit_rpm must be a whole number from 1 to 60 (your plan's limit per minute).",
      param: 'rate_limit_rpm',
      when: 'A rate limit above the plan’s.',
    },
    ...ACCOUNT_ERRORS,
    ...BODY_ERRORS,
    ...SERVER_ERRORS,
    NOT_FOUND,
  )
  update(
    @Auth() auth: AuthContext,
    @Param('id') id: string,
    @Body() body: UpdateKeyDto,
    @Req() request: FastifyRequest,
  ): Promise<KeyView> {
    return this.keys.update(actor(auth, request), id, this.keys.settingsFrom(auth, body));
  }

  @Post(':id/rotate')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Rotate a key: a new raw key (once) with the same id, settings and budget',
    description:
      'The current secret keeps working for `grace_seconds` (default 24 h, at most 7 days), then is refused ' +
      'with a message saying it was rotated. A secret of an earlier rotation still in its grace stops at once.',
  })
  @ApiResponse({ status: 201, type: CreatedKeyDto, examples: { rotated: KEY_EXAMPLES.rotated } })
  @ApiErrors(
    {
      error: ErrorCode.InvalidRequest,
      name: 'grace_seconds',
      message: 'grace_seconds must be 0 to 604800 (7 days)',
      param: 'grace_seconds',
      when: 'A grace period longer than 7 days.',
    },
    {
      error: ErrorCode.InvalidRequest,
      name: 'revoked',
      message:
        'The API key key_WgBkzvvM0wrSnafmDS8yQi7V is revoked: it cannot be rotated. Create a new key instead.',
      param: 'id',
      when: 'A revoked key.',
    },
    ...ACCOUNT_ERRORS,
    ...BODY_ERRORS,
    ...SERVER_ERRORS,
    NOT_FOUND,
  )
  rotate(
    @Auth() auth: AuthContext,
    @Param('id') id: string,
    @Body() body: RotateKeyDto,
    @Req() request: FastifyRequest,
  ): Promise<CreatedKey> {
    return this.keys.rotate(actor(auth, request), id, (body.grace_seconds ?? 86_400) * 1000);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Revoke a key: it stops working on every instance within a second' })
  @ApiResponse({ status: 200, type: KeyDto, examples: { revoked: KEY_EXAMPLES.revoked } })
  @ApiErrors(...ACCOUNT_ERRORS, ...SERVER_ERRORS, NOT_FOUND)
  revoke(
    @Auth() auth: AuthContext,
    @Param('id') id: string,
    @Req() request: FastifyRequest,
  ): Promise<KeyView> {
    return this.keys.revoke(auth.accountId, id, actor(auth, request));
  }
}

/** Who acts on the key, for the audit log: the account owner (by session or live key), in this request. */
function actor(auth: AuthContext, request: FastifyRequest): Actor {
  return { accountId: auth.accountId, role: auth.role, requestId: request.id };
}
