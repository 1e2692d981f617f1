import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString } from 'class-validator';
import { PROVIDER_IDS } from '../common/provider-ids.js';
import { MAX_LIMIT, MAX_RANGE_DAYS, USAGE_FORMATS, USAGE_KINDS, USAGE_STATUSES } from './usage.query.js';

/**
 * The query of `GET /v1/usage`. Only its names and types are checked here (an unknown parameter is a 400 naming
 * it); `parseUsageQuery` checks the values, each 400 naming its parameter.
 */
export class UsageQueryDto {
  @ApiPropertyOptional({
    format: 'date-time',
    description:
      'Start of the range, inclusive (ISO 8601 UTC). Default: the start of the current billing period.',
    example: '2026-11-01T00:00:00Z',
  })
  @IsOptional()
  @IsString()
  from?: string;

  @ApiPropertyOptional({
    format: 'date-time',
    description:
      `End of the range, exclusive (ISO 8601 UTC). Default: the end of the current billing period. ` +
      `At most ${MAX_RANGE_DAYS} days after \`from\`.`,
    example: '2026-12-01T00:00:00Z',
  })
  @IsOptional()
  @IsString()
  to?: string;

  @ApiPropertyOptional({
    description: "One of the account's keys (another account's key id matches nothing).",
    example: 'key_3hT9xQ0aZk2mV7pL1sR8wN4c',
  })
  @IsOptional()
  @IsString()
  key_id?: string;

  @ApiPropertyOptional({
    description: 'The model that served the request (or was asked for, when none did).',
    example: 'gpt-6-luna',
  })
  @IsOptional()
  @IsString()
  model?: string;

  @ApiPropertyOptional({ enum: PROVIDER_IDS })
  @IsOptional()
  @IsString()
  provider?: string;

  @ApiPropertyOptional({
    enum: USAGE_STATUSES,
    description:
      '`ok`: answered (completed, or the client left mid-answer); `error`: failed or cut by the provider.',
  })
  @IsOptional()
  @IsString()
  status?: string;

  @ApiPropertyOptional({ enum: USAGE_KINDS, description: 'Live keys (billed) or test keys (mock answers).' })
  @IsOptional()
  @IsString()
  kind?: string;

  @ApiPropertyOptional({
    description:
      'Sums per group instead of events: `hour`, `day`, `model`, `key` or `provider`, or two of them combined ' +
      '(`day,model`). Hours and days are UTC.',
    example: 'day,model',
  })
  @IsOptional()
  @IsString()
  group_by?: string;

  @ApiPropertyOptional({
    description: `Events per page, 1 to ${MAX_LIMIT} (default 100). Events only.`,
    example: '100',
  })
  @IsOptional()
  @IsString()
  limit?: string;

  @ApiPropertyOptional({
    description: 'The `next_cursor` of the previous page, unchanged (same filters). Events only.',
  })
  @IsOptional()
  @IsString()
  cursor?: string;

  @ApiPropertyOptional({
    enum: USAGE_FORMATS,
    description:
      '`csv`: the same rows as a streamed CSV file with a header row (every event of the range, from the cursor on).',
  })
  @IsOptional()
  @IsString()
  format?: string;
}

export class UsageEventDto {
  @ApiProperty({ enum: ['usage_event'] }) object!: 'usage_event';
  @ApiProperty({
    description: 'The request id (the `x-request-id` of the request).',
    example: 'req_5f0c2a9be4d17c3a86f1e2d0',
  })
  id!: string;
  @ApiProperty({ format: 'date-time', description: 'When the request ended.' }) created_at!: string;
  @ApiProperty({ type: String, nullable: true, example: 'key_3hT9xQ0aZk2mV7pL1sR8wN4c' }) key_id!:
    string | null;
  @ApiProperty({ enum: USAGE_KINDS }) kind!: string;
  @ApiProperty({ example: 'gpt-6-luna' }) model_requested!: string;
  @ApiProperty({ type: String, nullable: true, example: 'gpt-6-luna' }) model_served!: string | null;
  @ApiProperty({ type: String, nullable: true, enum: PROVIDER_IDS }) provider!: string | null;
  @ApiProperty({ description: 'Providers tried.', example: 1 }) attempts!: number;
  @ApiProperty() stream!: boolean;
  @ApiProperty({ enum: USAGE_STATUSES }) status!: string;
  @ApiProperty({ enum: ['completed', 'aborted', 'cut', 'failed'], description: 'How the request ended.' })
  outcome!: string;
  @ApiProperty({ example: 200 }) http_status!: number;
  @ApiProperty({ type: String, nullable: true, example: null }) error_code!: string | null;
  @ApiProperty({ example: 12 }) prompt_tokens!: number;
  @ApiProperty({ example: 30 }) completion_tokens!: number;
  @ApiProperty({ example: 0 }) cached_tokens!: number;
  @ApiProperty({ example: 0 }) reasoning_tokens!: number;
  @ApiProperty({ example: 42 }) total_tokens!: number;
  @ApiProperty({ description: 'Cost in credits (exact decimal).', example: '0.00042' }) credits!: string;
  @ApiProperty({ example: 812 }) latency_ms!: number;
  @ApiProperty({ type: Number, nullable: true, description: 'Time to first token (streams).', example: null })
  ttft_ms!: number | null;
  @ApiProperty({ description: 'Tokens counted by the gateway (the provider reported none).' })
  estimated!: boolean;
}

export class UsageEventListDto {
  @ApiProperty({ enum: ['list'] }) object!: 'list';
  @ApiProperty({ format: 'date-time' }) from!: string;
  @ApiProperty({ format: 'date-time' }) to!: string;
  @ApiProperty({ type: [UsageEventDto], description: 'Newest first.' }) data!: UsageEventDto[];
  @ApiProperty() has_more!: boolean;
  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page.' })
  next_cursor!: string | null;
}

export class UsageGroupDto {
  @ApiPropertyOptional({ description: 'With group_by=hour.', example: '2026-11-30T13:00:00Z' }) hour?: string;
  @ApiPropertyOptional({ description: 'With group_by=day.', example: '2026-11-30' }) day?: string;
  @ApiPropertyOptional({ description: 'With group_by=model.' }) model?: string;
  @ApiPropertyOptional({ type: String, nullable: true, description: 'With group_by=key.' }) key_id?:
    string | null;
  @ApiPropertyOptional({ type: String, nullable: true, description: 'With group_by=provider.' }) provider?:
    string | null;
  @ApiProperty() requests!: number;
  @ApiProperty() errors!: number;
  @ApiProperty() prompt_tokens!: number;
  @ApiProperty() completion_tokens!: number;
  @ApiProperty() cached_tokens!: number;
  @ApiProperty() total_tokens!: number;
  @ApiProperty({ description: 'Credits (exact decimal).' }) credits!: string;
  @ApiProperty({
    type: Number,
    nullable: true,
    description:
      'Median latency in ms, from a histogram: the upper bound of its bucket (at most 26 % above the exact value).',
  })
  latency_p50_ms!: number | null;
  @ApiProperty({
    type: Number,
    nullable: true,
    description: '95th percentile latency in ms (same precision).',
  })
  latency_p95_ms!: number | null;
}

export class UsageGroupListDto {
  @ApiProperty({ enum: ['list'] }) object!: 'list';
  @ApiProperty({ format: 'date-time' }) from!: string;
  @ApiProperty({ format: 'date-time' }) to!: string;
  @ApiProperty({ type: [String], example: ['day', 'model'] }) group_by!: string[];
  @ApiProperty({ type: [UsageGroupDto] }) data!: UsageGroupDto[];
}

export class UsageStreamReadyDto {
  @ApiProperty({
    description: 'The `ready` event: the stream listens. Seconds between heartbeats.',
    example: 15,
  })
  heartbeat_seconds!: number;
}

export class UsageStreamHeartbeatDto {
  @ApiProperty({ format: 'date-time', description: 'The `heartbeat` event, after 15 s without another.' })
  time!: string;
}

const EVENT_EXAMPLE = {
  object: 'usage_event',
  id: 'req_5f0c2a9be4d17c3a86f1e2d0',
  created_at: '2026-11-30T13:02:11.418Z',
  key_id: 'key_3hT9xQ0aZk2mV7pL1sR8wN4c',
  kind: 'live',
  model_requested: 'gpt-6-luna',
  model_served: 'gpt-6-luna',
  provider: 'openai',
  attempts: 1,
  stream: false,
  status: 'ok',
  outcome: 'completed',
  http_status: 200,
  error_code: null,
  prompt_tokens: 12,
  completion_tokens: 30,
  cached_tokens: 0,
  reasoning_tokens: 0,
  total_tokens: 42,
  credits: '0.00042',
  latency_ms: 812,
  ttft_ms: null,
  estimated: false,
};

export const USAGE_EXAMPLES = {
  events: {
    summary: 'Events, newest first, one page',
    value: {
      object: 'list',
      from: '2026-11-30T00:00:00.000Z',
      to: '2026-12-30T00:00:00.000Z',
      data: [EVENT_EXAMPLE],
      has_more: true,
      next_cursor:
        'WyIyMDI2LTExLTMwVDEzOjAyOjExLjQxODAwMFoiLCI0MiIsMTc2NDQ2MDgwMDAwMCwxNzY3MDUyODAwMDAwXQ.q0v3…',
    },
  },
  groups: {
    summary: 'group_by=day,model',
    value: {
      object: 'list',
      from: '2026-11-01T00:00:00.000Z',
      to: '2026-12-01T00:00:00.000Z',
      group_by: ['day', 'model'],
      data: [
        {
          day: '2026-11-30',
          model: 'gpt-6-luna',
          requests: 120,
          errors: 2,
          prompt_tokens: 1440,
          completion_tokens: 3600,
          cached_tokens: 0,
          total_tokens: 5040,
          credits: '0.0504',
          latency_p50_ms: 808,
          latency_p95_ms: 1351,
        },
      ],
    },
  },
  csv:
    'id,created_at,key_id,kind,model_requested,model_served,provider,attempts,stream,status,outcome,http_status,' +
    'error_code,prompt_tokens,completion_tokens,cached_tokens,reasoning_tokens,total_tokens,credits,latency_ms,ttft_ms,' +
    'estimated\r\nreq_5f0c2a9be4d17c3a86f1e2d0,2026-11-30T13:02:11.418Z,key_3hT9xQ0aZk2mV7pL1sR8wN4c,live,gpt-6-luna,' +
    'gpt-6-luna,openai,1,false,ok,completed,200,,12,30,0,0,42,0.00042,812,,false\r\n',
  stream:
    'event: ready\ndata: {"heartbeat_seconds":15}\n\n' +
    `event: usage\ndata: ${JSON.stringify(EVENT_EXAMPLE)}\n\n` +
    'event: heartbeat\ndata: {"time":"2026-11-30T13:02:26.000Z"}\n\n',
};
