import { Controller, Get, Query, Req, Res, StreamableFile, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiExtraModels,
  ApiOperation,
  ApiResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode } from '../common/errors.js';
import { ACCOUNT_ERRORS, API_KEY_AUTH, ApiErrors, SERVER_ERRORS, SESSION_AUTH } from '../common/openapi.js';
import { Auth, type AuthContext } from '../keys/auth-context.js';
import { AccountAuthGuard } from '../keys/guards.js';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard.js';
import {
  UsageEventDto,
  UsageEventListDto,
  UsageGroupListDto,
  UsageQueryDto,
  UsageStreamHeartbeatDto,
  UsageStreamReadyDto,
  USAGE_EXAMPLES,
} from './usage.dto.js';
import { UsageFeed } from './usage.feed.js';
import { UsageService, type UsageEventList, type UsageGroupList } from './usage.service.js';

@ApiTags('usage')
@ApiBearerAuth(SESSION_AUTH)
@ApiBearerAuth(API_KEY_AUTH)
@UseGuards(AccountAuthGuard, RateLimitGuard)
@Controller('v1/usage')
export class UsageController {
  constructor(
    private readonly usage: UsageService,
    private readonly feed: UsageFeed,
  ) {}

  @Get()
  @ApiOperation({
    summary: "The account's usage: its events (newest first, cursor pages) or sums per group, as JSON or CSV",
    description:
      "Only the caller's own account, whatever ids are passed. Never prompt or completion content: metadata only.",
  })
  @ApiExtraModels(UsageEventListDto, UsageGroupListDto)
  @ApiResponse({
    status: 200,
    content: {
      'application/json': {
        schema: {
          oneOf: [{ $ref: getSchemaPath(UsageEventListDto) }, { $ref: getSchemaPath(UsageGroupListDto) }],
        },
        examples: { events: USAGE_EXAMPLES.events, groups: USAGE_EXAMPLES.groups },
      },
      'text/csv': { schema: { type: 'string' }, example: USAGE_EXAMPLES.csv },
    },
  })
  @ApiErrors(
    { error: ErrorCode.InvalidRequest, message: 'to must be after from.', param: 'to' },
    {
      error: ErrorCode.InvalidRequest,
      name: 'range',
      message: 'The range from from to to must be at most 400 days.',
      param: 'from',
      when: 'A range longer than 400 days.',
    },
    {
      error: ErrorCode.InvalidRequest,
      name: 'group_by',
      message: 'group_by must be one of: hour, day, model, key, provider.',
      param: 'group_by',
      when: 'An unknown grouping (each bad parameter is named the same way).',
    },
    {
      error: ErrorCode.InvalidRequest,
      name: 'cursor',
      message: 'cursor is not a next_cursor of this query: pass it back unchanged, with the same filters.',
      param: 'cursor',
      when: 'A cursor altered, or used with other filters or by another account.',
    },
    ...ACCOUNT_ERRORS,
    ...SERVER_ERRORS,
  )
  async read(
    @Auth() auth: AuthContext,
    @Query() query: UsageQueryDto,
  ): Promise<UsageEventList | UsageGroupList | StreamableFile> {
    const answer = await this.usage.read(auth, query);
    return answer.kind === 'csv'
      ? new StreamableFile(answer.stream, {
          type: 'text/csv; charset=utf-8',
          disposition: 'attachment; filename="usage.csv"',
        })
      : answer.body;
  }

  @Get('stream')
  @ApiOperation({
    summary:
      'Server-sent events: each new usage event of the account as it happens, and a heartbeat every 15 s',
    description:
      'Events: `ready` once listening, `usage` (a usage event, as in `GET /v1/usage`) within a second of each ' +
      "request's end on any instance, `heartbeat` after 15 s without another, and `error` (then the end) when the " +
      'key it was opened with is revoked. A client that does not read is dropped; an account may hold a few ' +
      'streams at once per instance (`USAGE_STREAMS_PER_ACCOUNT`, 10), more get 429.',
  })
  @ApiExtraModels(UsageEventDto, UsageStreamReadyDto, UsageStreamHeartbeatDto)
  @ApiResponse({
    status: 200,
    description: "An SSE stream; each event's `data` is one of these (an `error` event: the error envelope).",
    content: {
      'text/event-stream': {
        schema: {
          oneOf: [
            { $ref: getSchemaPath(UsageEventDto) },
            { $ref: getSchemaPath(UsageStreamReadyDto) },
            { $ref: getSchemaPath(UsageStreamHeartbeatDto) },
          ],
        },
        example: USAGE_EXAMPLES.stream,
      },
    },
  })
  @ApiErrors(
    {
      error: ErrorCode.RateLimitExceeded,
      name: 'too_many_streams',
      message: 'At most 10 usage streams may be open at once per account; close one first.',
      when: 'The account already holds its most usage streams on this instance.',
    },
    ...ACCOUNT_ERRORS,
    ...SERVER_ERRORS,
  )
  stream(@Auth() auth: AuthContext, @Req() request: FastifyRequest, @Res() reply: FastifyReply): void {
    this.feed.open(auth, request.headers.authorization, reply);
  }
}
