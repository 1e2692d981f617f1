import { Body, Controller, Delete, Get, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { API_KEY_AUTH, ErrorDto, SESSION_AUTH } from '../common/openapi.js';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard.js';
import { Auth, type AuthContext } from './auth-context.js';
import { AccountAuthGuard } from './guards.js';
import { CreateKeyDto, CreatedKeyDto, KeyDto, KeyListDto } from './keys.dto.js';
import { KeysService, type CreatedKey, type KeyView } from './keys.service.js';

@ApiTags('keys')
@ApiBearerAuth(SESSION_AUTH)
@ApiBearerAuth(API_KEY_AUTH)
@ApiResponse({ status: 401, type: ErrorDto })
@ApiResponse({ status: 403, type: ErrorDto, description: 'A test key cannot manage keys' })
@UseGuards(AccountAuthGuard, RateLimitGuard)
@Controller('v1/keys')
export class KeysController {
  constructor(private readonly keys: KeysService) {}

  @Post()
  @ApiOperation({ summary: 'Create an API key; the raw key is in the answer once' })
  @ApiResponse({ status: 201, type: CreatedKeyDto })
  @ApiResponse({ status: 400, type: ErrorDto })
  create(@Auth() auth: AuthContext, @Body() body: CreateKeyDto): Promise<CreatedKey> {
    return this.keys.create(auth.accountId, { name: body.name, kind: body.kind, expiresAt: body.expires_at });
  }

  @Get()
  @ApiOperation({ summary: "List the account's keys (never the raw keys)" })
  @ApiResponse({ status: 200, type: KeyListDto })
  async list(@Auth() auth: AuthContext): Promise<{ object: 'list'; data: KeyView[] }> {
    return { object: 'list', data: await this.keys.list(auth.accountId) };
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Revoke a key: it stops working on every instance within a second' })
  @ApiResponse({ status: 200, type: KeyDto })
  @ApiResponse({ status: 404, type: ErrorDto })
  revoke(@Auth() auth: AuthContext, @Param('id') id: string): Promise<KeyView> {
    return this.keys.revoke(auth.accountId, id);
  }
}
