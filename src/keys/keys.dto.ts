import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  Allow,
  IsDate,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxDate,
  Min,
} from 'class-validator';
import { KEY_KINDS, type KeyKind } from './api-key.entity.js';

export class CreateKeyDto {
  @ApiProperty({ example: 'production backend', minLength: 1, maxLength: 100 })
  @IsString({ message: 'name must be a string' })
  @Length(1, 100, { message: 'name must be 1 to 100 characters long' })
  // eslint-disable-next-line no-control-regex -- NUL is exactly what Postgres text cannot hold
  @Matches(/^[^\u0000]*$/, { message: 'name must not contain NUL characters' })
  name!: string;

  @ApiProperty({
    enum: KEY_KINDS,
    description: '`live` keys make real, billed calls; `test` keys get mock answers.',
  })
  @IsIn(KEY_KINDS, { message: 'kind must be "live" or "test"' })
  kind!: KeyKind;

  @ApiPropertyOptional({
    format: 'date-time',
    description: 'When the key stops working (must be in the future).',
  })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'expires_at must be an ISO 8601 date-time' })
  @MaxDate(new Date('9999-12-31T23:59:59Z'), { message: 'expires_at must be before the year 10000' })
  expires_at?: Date;
}

export class UpdateKeyDto {
  @ApiPropertyOptional({ example: 'production backend', minLength: 1, maxLength: 100 })
  @IsOptional()
  @IsString({ message: 'name must be a string' })
  @Length(1, 100, { message: 'name must be 1 to 100 characters long' })
  // eslint-disable-next-line no-control-regex -- NUL is exactly what Postgres text cannot hold
  @Matches(/^[^\u0000]*$/, { message: 'name must not contain NUL characters' })
  name?: string;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    example: '25',
    description:
      'Credits the key may spend per billing period of the account (a decimal with up to 6 places); past it the ' +
      'key gets 402 `key_credit_limit`. Requests in flight count with their hold. `null` removes the limit.',
  })
  @Allow()
  credit_limit?: string | number | null;

  @ApiPropertyOptional({
    type: [String],
    nullable: true,
    example: ['gpt-6-luna', 'claude-haiku-5-5'],
    description:
      'Catalog model ids the key may be served by (the request’s `model` and every entry of `models`; catalog ' +
      'fallbacks outside the list are skipped). `null` allows every model.',
  })
  @Allow()
  allowed_models?: string[] | null;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    example: 30,
    minimum: 1,
    description: 'Requests per minute for this key, at most the plan’s. `null`: the plan’s.',
  })
  @IsOptional()
  @IsInt({ message: 'rate_limit_rpm must be a whole number' })
  @Min(1, { message: 'rate_limit_rpm must be at least 1' })
  @Max(1_000_000, { message: 'rate_limit_rpm is too large' })
  rate_limit_rpm?: number | null;
}

export class RotateKeyDto {
  @ApiPropertyOptional({
    default: 86_400,
    minimum: 0,
    maximum: 604_800,
    description: 'How long the current secret keeps working after the rotation, in seconds (at most 7 days).',
  })
  @IsOptional()
  @IsInt({ message: 'grace_seconds must be a whole number of seconds' })
  @Min(0, { message: 'grace_seconds must be 0 to 604800 (7 days)' })
  @Max(604_800, { message: 'grace_seconds must be 0 to 604800 (7 days)' })
  grace_seconds?: number;
}

export class KeyUsageDto {
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) period_start!: string | null;
  @ApiProperty({ description: 'Credits charged this billing period (decimal).', example: '3.25' })
  credits!: string;
  @ApiProperty({ example: 120 }) requests!: number;
}

export class KeyDto {
  @ApiProperty({ example: 'key_3hT9xQ0aZk2mV7pL1sR8wN4c' }) id!: string;
  @ApiProperty({ enum: ['api_key'] }) object!: 'api_key';
  @ApiProperty() name!: string;
  @ApiProperty({ enum: KEY_KINDS }) kind!: KeyKind;
  @ApiProperty({ description: 'The key, shortened: enough to recognise it.', example: 'cf_live_bu7D…yVEJ' })
  display!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) expires_at!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) last_used_at!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) revoked_at!: string | null;
  @ApiProperty({ type: String, nullable: true, example: '25', description: 'Credits per billing period.' })
  credit_limit!: string | null;
  @ApiProperty({ type: [String], nullable: true }) allowed_models!: string[] | null;
  @ApiProperty({ type: Number, nullable: true }) rate_limit_rpm!: number | null;
  @ApiProperty({ type: KeyUsageDto, description: 'Use in the account’s current billing period.' })
  usage!: KeyUsageDto;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) rotated_at!: string | null;
  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'Until when the secret before the last rotation still works.',
  })
  previous_key_valid_until!: string | null;
}

export class CreatedKeyDto extends KeyDto {
  @ApiProperty({
    description:
      'The raw key (`cf_live_` or `cf_test_`, 32 random base62 characters and a 6-character checksum). Shown ' +
      'once: store it now, it cannot be retrieved again.',
  })
  key!: string;
}

export class KeyListDto {
  @ApiProperty({ enum: ['list'] }) object!: 'list';
  @ApiProperty({ type: [KeyDto] }) data!: KeyDto[];
}

const liveKey = {
  id: 'key_WgBkzvvM0wrSnafmDS8yQi7V',
  object: 'api_key',
  name: 'backend',
  kind: 'live',
  display: 'cf_live_bu7D…yVEJ',
  created_at: '2026-11-30T04:23:00.776Z',
  expires_at: '2027-06-01T00:00:00.000Z',
  last_used_at: '2026-11-30T04:23:01.492Z',
  revoked_at: null,
  credit_limit: '25',
  allowed_models: ['gpt-6-luna', 'claude-haiku-5-5'],
  rate_limit_rpm: 30,
  usage: { period_start: '2026-11-01T00:00:00.000Z', credits: '3.25', requests: 120 },
  rotated_at: null,
  previous_key_valid_until: null,
};
const testKey = {
  id: 'key_3AYGBYcR3pmssam8xKLX3bVJ',
  object: 'api_key',
  name: 'dev laptop',
  kind: 'test',
  display: 'cf_test_uszL…lSzU',
  created_at: '2026-11-30T04:23:00.800Z',
  expires_at: null,
  last_used_at: '2026-11-30T04:23:01.492Z',
  revoked_at: null,
  credit_limit: null,
  allowed_models: null,
  rate_limit_rpm: null,
  usage: { period_start: '2026-11-01T00:00:00.000Z', credits: '0', requests: 14 },
  rotated_at: null,
  previous_key_valid_until: null,
};

/** Real answers of the key routes (the raw keys replaced by placeholders of the same shape). */
export const KEY_EXAMPLES = {
  created: {
    summary: 'A new live key (the raw key is shown once)',
    value: {
      ...liveKey,
      last_used_at: null,
      key: 'cf_live_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX',
    },
  },
  created_test: {
    summary: 'A new test key',
    value: {
      ...testKey,
      last_used_at: null,
      key: 'cf_test_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX',
    },
  },
  list: { summary: 'An account’s keys', value: { object: 'list', data: [testKey, liveKey] } },
  updated: { summary: 'A key with a budget, a model list and its own rate limit', value: liveKey },
  rotated: {
    summary: 'A rotated key: the new raw key, once; the old one works until previous_key_valid_until',
    value: {
      ...liveKey,
      display: 'cf_live_Q3xe…9TzA',
      rotated_at: '2026-11-30T05:00:00.000Z',
      previous_key_valid_until: '2026-12-01T05:00:00.000Z',
      key: 'cf_live_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX',
    },
  },
  revoked: {
    summary: 'A revoked key',
    value: { ...testKey, last_used_at: '2026-11-30T04:23:02.200Z', revoked_at: '2026-11-30T04:23:05.023Z' },
  },
};
