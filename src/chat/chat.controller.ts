import { Body, Controller, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { API_KEY_AUTH, ErrorDto } from '../common/openapi.js';
import { Auth, type AuthContext } from '../keys/auth-context.js';
import { ApiKeyGuard } from '../keys/guards.js';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard.js';
import { ChatService } from './chat.service.js';

@ApiTags('chat')
@ApiBearerAuth(API_KEY_AUTH)
@UseGuards(ApiKeyGuard, RateLimitGuard)
@Controller('v1/chat')
export class ChatController {
  constructor(private readonly chat: ChatService) {}

  @Post('completions')
  @ApiOperation({
    summary: 'Create a chat completion (OpenAI-compatible; `stream: true` answers with server-sent events)',
    description:
      'The body and the answer follow OpenAI’s Chat Completions API. The answer names what served it in ' +
      '`x-conflux-provider`, `x-conflux-model` and `x-conflux-attempts`, and what it cost in ' +
      '`x-conflux-cost-credits` and `usage.cost_credits`.',
  })
  @ApiBody({ schema: { type: 'object', required: ['model', 'messages'], additionalProperties: true } })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'Replays a completed request without a new charge',
  })
  @ApiHeader({
    name: 'x-conflux-strict-params',
    required: false,
    description:
      '`true`: a sampling parameter the serving provider cannot take (temperature, top_p, penalties, seed) is a ' +
      '400 naming it instead of being left out (the answer lists what was left out in `x-conflux-dropped-params`)',
  })
  @ApiHeader({
    name: 'x-conflux-mock',
    required: false,
    description: 'Test keys only: rate_limit, server_error or failover',
  })
  @ApiResponse({
    status: 200,
    description: 'A chat.completion object, or a text/event-stream of chat.completion.chunk',
  })
  @ApiResponse({ status: 400, type: ErrorDto })
  @ApiResponse({ status: 401, type: ErrorDto })
  @ApiResponse({ status: 402, type: ErrorDto, description: 'Out of credits (Free plan)' })
  @ApiResponse({ status: 404, type: ErrorDto, description: 'Unknown model' })
  @ApiResponse({ status: 409, type: ErrorDto, description: 'Same Idempotency-Key still in flight' })
  @ApiResponse({ status: 429, type: ErrorDto })
  @ApiResponse({ status: 503, type: ErrorDto, description: 'Every provider and fallback failed' })
  async create(
    @Auth() auth: AuthContext,
    @Body() body: unknown,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const mock = request.headers['x-conflux-mock'];
    const idempotencyKey = request.headers['idempotency-key'];
    await this.chat.complete({
      auth,
      body,
      requestId: request.id,
      mock: typeof mock === 'string' ? mock : undefined,
      strictParams: strictHeader(request.headers['x-conflux-strict-params']),
      idempotencyKey: idempotencyHeader(idempotencyKey),
      rawKey: request.headers.authorization?.replace(/^Bearer\s+/i, '').trim() ?? '',
      reply,
    });
  }
}

/** `x-conflux-strict-params`: `true` or `false` (absent: false); anything else is a 400 naming it. */
function strictHeader(value: string | string[] | undefined): boolean {
  if (value === undefined) {
    return false;
  }
  if (value === 'true' || value === 'false') {
    return value === 'true';
  }
  throw new GatewayError(ErrorCode.InvalidRequest, 'x-conflux-strict-params must be true or false.', {
    param: 'x-conflux-strict-params',
  });
}

/** One Idempotency-Key, or none; an empty or repeated header is a 400 rather than silently ignored. */
function idempotencyHeader(value: string | string[] | undefined): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (Array.isArray(value) || value.trim() === '') {
    throw new GatewayError(ErrorCode.InvalidRequest, 'Send one non-empty Idempotency-Key header.', {
      param: 'Idempotency-Key',
    });
  }
  return value;
}
