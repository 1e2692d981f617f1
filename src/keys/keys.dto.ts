import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDate, IsIn, IsOptional, IsString, Length, Matches, MaxDate } from 'class-validator';
import { KEY_KINDS, type KeyKind } from './api-key.entity.js';

export class CreateKeyDto {
  @ApiProperty({ example: 'production backend', minLength: 1, maxLength: 100 })
  @IsString()
  @Length(1, 100)
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
  @ApiProperty({ example: 'cf_live_AbCd…wxyz' }) display!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) expires_at!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) last_used_at!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) revoked_at!: string | null;
}

export class CreatedKeyDto extends KeyDto {
  @ApiProperty({ description: 'The raw key. Shown once: store it now, it cannot be retrieved again.' })
  key!: string;
}

export class KeyListDto {
  @ApiProperty({ enum: ['list'] }) object!: 'list';
  @ApiProperty({ type: [KeyDto] }) data!: KeyDto[];
}
