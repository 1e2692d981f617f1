import { ApiProperty } from '@nestjs/swagger';
import { isEmail, IsString, MaxLength, MinLength, ValidateBy } from 'class-validator';

/** A lone UTF-16 surrogate (`"\ud800"` in JSON): no UTF-8 text can hold it. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * `IsEmail`, but a lone surrogate is a plain "invalid": validator's isEmail passes the string to `encodeURI`, which
 * throws on one (a 500 otherwise).
 */
function IsEmailAddress(message: string): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isEmail',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' && !LONE_SURROGATE.test(value) && isEmail(value),
      },
    },
    { message },
  );
}

export class CredentialsDto {
  @ApiProperty({ example: 'dev@example.com' })
  @IsEmailAddress('email must be a valid email address')
  @MaxLength(254)
  email!: string;

  @ApiProperty({ minLength: 8, maxLength: 200, example: 'correct horse battery staple' })
  @IsString()
  @MinLength(8, { message: 'password must be at least 8 characters' })
  @MaxLength(200)
  password!: string;
}

export class AccountDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() email!: string;
  @ApiProperty({ enum: ['user', 'support', 'admin'] }) role!: string;
  @ApiProperty({ enum: ['free', 'power', 'pro'] }) plan!: string;
  @ApiProperty({ enum: ['active', 'suspended', 'pending_deletion', 'deleted'] }) status!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
}

export class SessionDto {
  @ApiProperty({
    description:
      'Session token (a JWT) for the account endpoints (`/v1/keys`, `/v1/credits`): `Authorization: Bearer <token>`.',
  })
  token!: string;
  @ApiProperty({ description: 'Seconds until the token expires.' })
  expires_in!: number;
  @ApiProperty({ type: AccountDto })
  account!: AccountDto;
}

/** A real answer of sign-up (the token's signature replaced). */
export const SESSION_EXAMPLE = {
  summary: 'A new Free account and its session',
  value: {
    token:
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI1ZmI0NjIwMC0xMTdlLTRkMjgtYmM5NC1kODAwY2Y3N2EwODkiLCJyb2xlIjoid' +
      'XNlciIsImlhdCI6MTc5NjAxMjU3OSwiZXhwIjoxNzk2MDE2MTc5fQ.XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX',
    expires_in: 3600,
    account: {
      id: '5fb46200-117e-4d28-bc94-d800cf77a089',
      email: 'dev@example.com',
      role: 'user',
      plan: 'free',
      status: 'active',
      created_at: '2026-11-30T04:22:59.235Z',
    },
  },
};
