import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDate, IsIn, IsOptional, IsString, Length, Matches, MaxDate } from 'class-validator';
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
  revoked: {
    summary: 'A revoked key',
    value: { ...testKey, last_used_at: '2026-11-30T04:23:02.200Z', revoked_at: '2026-11-30T04:23:05.023Z' },
  },
};
