import { Body, Controller, Post, Req, Res, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiExtraModels,
  ApiHeader,
  ApiOperation,
  ApiResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, GatewayError } from '../common/errors.js';
import {
  API_KEY_AUTH,
  API_KEY_ERRORS,
  ApiErrors,
  BODY_ERRORS,
  SERVER_ERRORS,
  responseHeaders,
} from '../common/openapi.js';
import { Auth, type AuthContext } from '../keys/auth-context.js';
import { ApiKeyGuard } from '../keys/guards.js';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard.js';
import {
  CHAT_COMPLETION_EXAMPLES,
  CHAT_REQUEST_EXAMPLES,
  CHAT_STREAM_EXAMPLES,
  ChatCompletionChunkDto,
  ChatCompletionDto,
} from './chat.dto.js';
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
  @ApiBody({
    description:
      'OpenAI’s Chat Completions request, checked against the schema below before anything else: an unknown ' +
      'field or a value out of range is a 400 naming it.',
    schema: { $ref: '#/components/schemas/CreateChatCompletionRequest' },
    examples: CHAT_REQUEST_EXAMPLES,
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Makes retries safe: a retry of a completed non-streaming request gets the stored answer (24 h, ' +
      '`x-conflux-idempotent-replay: true`, no new charge); a duplicate while the first is in flight gets 409.',
    schema: { type: 'string', example: 'order-1234' },
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
    description:
      'Test keys only (live keys ignore it): simulate a provider rate limit (429), every provider failing (503), ' +
      'or a failover to the fallback model.',
    schema: { type: 'string', enum: ['rate_limit', 'server_error', 'failover'] },
  })
  @ApiExtraModels(ChatCompletionDto, ChatCompletionChunkDto)
  @ApiResponse({
    status: 200,
    description:
      'A `chat.completion` object (`application/json`), or with `stream: true` a `text/event-stream`: one ' +
      '`data: <chat.completion.chunk>` event per chunk, then `data: [DONE]`. A provider failing after the first ' +
      'chunk ends the stream with a `data: {"error":…}` event (`upstream_error`) and no `[DONE]`. Test keys get a ' +
      'deterministic mock answer, free.',
    headers: responseHeaders(
      'x-request-id',
      'x-conflux-provider',
      'x-conflux-model',
      'x-conflux-attempts',
      'x-conflux-cost-credits',
      'x-conflux-credits-remaining',
      'x-conflux-idempotent-replay',
      'x-ratelimit-limit-requests',
      'x-ratelimit-remaining-requests',
      'x-ratelimit-reset-requests',
    ),
    content: {
      'application/json': {
        schema: { $ref: getSchemaPath(ChatCompletionDto) },
        examples: CHAT_COMPLETION_EXAMPLES,
      },
      'text/event-stream': {
        schema: { $ref: getSchemaPath(ChatCompletionChunkDto) },
        examples: CHAT_STREAM_EXAMPLES,
      },
    },
  })
  @ApiErrors(
    {
      error: ErrorCode.InvalidRequest,
      name: 'missing_parameter',
      message: "Missing required parameter: 'messages'.",
      param: 'messages',
      when: 'A required field is missing.',
    },
    {
      error: ErrorCode.InvalidRequest,
      name: 'out_of_range',
      message: "Invalid 'temperature': above maximum value. Expected a value <= 2, but got 5 instead.",
      param: 'temperature',
      when: 'A value out of range: refused, never clamped.',
    },
    {
      error: ErrorCode.InvalidRequest,
      name: 'unrecognized_argument',
      message: 'Unrecognized request argument supplied: additionalProp1',
      param: 'additionalProp1',
      when: 'A field the Chat Completions API does not have.',
    },
    {
      error: ErrorCode.InvalidRequest,
      name: 'max_tokens',
      message:
        'max_tokens is too large: 200000. The model `gpt-6-luna` supports at most 128000 completion tokens.',
      param: 'max_tokens',
      when: 'More output tokens than the model can produce.',
    },
    {
      error: ErrorCode.UnsupportedParameter,
      message: 'The model `gemini-3.5-flash-lite` does not support the parameter `presence_penalty`.',
      param: 'presence_penalty',
    },
    {
      error: ErrorCode.ContextLengthExceeded,
      message:
        "This model's maximum context length is 1050000 tokens. However, your messages resulted in about 1100000 " +
        'tokens. Please reduce the length of the messages.',
      param: 'messages',
    },
    {
      error: ErrorCode.UpstreamBadRequest,
      name: 'provider_rejected',
      message: "Invalid 'messages[0].content': string too long.",
      param: 'messages[0].content',
      code: 'string_above_max_length',
    },
    {
      error: ErrorCode.InvalidRequest,
      name: 'idempotency_key_reused',
      message: 'This Idempotency-Key was already used with a different request body.',
      param: 'Idempotency-Key',
      code: 'idempotency_key_reused',
      when: 'The Idempotency-Key was used with another body.',
    },
    {
      error: ErrorCode.InvalidRequest,
      name: 'bad_header',
      message: 'x-conflux-mock must be one of normal, rate_limit, server_error, failover.',
      param: 'x-conflux-mock',
      when: 'An empty or repeated Idempotency-Key, or an unknown x-conflux-mock.',
    },
    {
      error: ErrorCode.InsufficientQuota,
      message:
        "You don't have enough credits for this request: it may cost up to 6.40002 credits (the prompt plus " +
        "128000 completion tokens at gpt-6-luna's price). Lower max_tokens, upgrade your plan, or wait for your " +
        'next billing period.',
    },
    {
      error: ErrorCode.PaymentOverdue,
      message:
        "Your subscription's payment has failed for more than 7 days. Update your payment method in the billing " +
        'portal (POST /v1/billing/portal) to continue.',
      when: 'A paid plan whose payment has failed for longer than `PAYMENT_GRACE_DAYS`: live keys stop until it is paid.',
    },
    {
      error: ErrorCode.KeyCreditLimit,
      message:
        'This API key (key_WgBkzvvM0wrSnafmDS8yQi7V) has reached its credit limit of 25 credits for this billing ' +
        'period: this request needs up to 0.1 credits and the key has 0.04 left (requests in flight count with ' +
        "their hold). Raise or clear the key's credit_limit, use another key, or wait for the billing date.",
    },
    {
      error: ErrorCode.ModelNotAllowed,
      message:
        'This API key is not allowed to use the model `claude-haiku-5-5`. It may use: gpt-6-luna. Change its ' +
        'allowed_models (PATCH /v1/keys/{id}) or use another key.',
      param: 'model',
    },
    {
      error: ErrorCode.ModelNotAllowed,
      name: 'model_not_allowed_in_models',
      message:
        'This API key is not allowed to use the model `gemini-3.8-flash`. It may use: gpt-6-luna. Change its ' +
        'allowed_models (PATCH /v1/keys/{id}) or use another key.',
      param: 'models[1]',
      when: 'An entry of `models` is not in the key’s `allowed_models`.',
    },
    {
      error: ErrorCode.ModelNotFound,
      message: 'The model `gpt-0` does not exist or you do not have access to it.',
      param: 'model',
    },
    {
      error: ErrorCode.Conflict,
      message: 'A request with this Idempotency-Key is still in progress. Retry after it completes.',
      param: 'Idempotency-Key',
      code: 'idempotency_key_in_use',
      when: 'A request with the same Idempotency-Key is still in flight: retry after `retry-after`.',
      headers: ['retry-after'],
    },
    {
      error: ErrorCode.Conflict,
      message:
        'A streamed request with this Idempotency-Key already completed; streamed answers are not stored for replay.',
      param: 'Idempotency-Key',
      code: 'idempotency_key_used',
      when: 'The Idempotency-Key belongs to a completed stream (not stored) or to another API key.',
    },
    {
      error: ErrorCode.RateLimitExceeded,
      message:
        'This API key already has 8 requests in progress, the most one key may have at once. Retry when one of ' +
        'them has finished.',
      code: 'concurrency_limit_exceeded',
      when: 'The key has `KEY_MAX_CONCURRENT` requests in flight already.',
    },
    {
      error: ErrorCode.RateLimitExceeded,
      name: 'simulated',
      message: 'Simulated provider rate limit (x-conflux-mock: rate_limit).',
      when: 'A test key with `x-conflux-mock: rate_limit`.',
    },
    {
      error: ErrorCode.UpstreamAuth,
      message:
        'The gateway could not authenticate with the provider of `gpt-6-luna`. Operators have been alerted.',
      headers: ['x-should-retry', 'x-conflux-attempts'],
    },
    {
      error: ErrorCode.ServiceUnavailable,
      message:
        'No provider could serve `gpt-6-luna` right now (2 attempts, including fallback models). Please retry later.',
      when:
        'Every provider of the model and of its fallbacks failed or is down (the gateway already retried: ' +
        '`x-should-retry: false`); also a test key with `x-conflux-mock: server_error`.',
      headers: ['retry-after', 'x-should-retry', 'x-conflux-attempts'],
    },
    {
      error: ErrorCode.ServiceUnavailable,
      name: 'instance_busy',
      message:
        'This gateway instance has 128 requests in flight to providers, its limit. Please retry shortly.',
      when: 'This instance has `UPSTREAM_MAX_IN_FLIGHT` requests at providers already.',
    },
    {
      error: ErrorCode.UpstreamTimeout,
      message: 'No provider of `gpt-6-luna` answered within 60000 ms (2 attempts). Please retry.',
      headers: ['x-conflux-attempts'],
    },
    ...API_KEY_ERRORS,
    ...BODY_ERRORS,
    ...SERVER_ERRORS,
  )
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
