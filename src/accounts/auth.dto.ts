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
  @ApiProperty() id!: string;
  @ApiProperty() email!: string;
  @ApiProperty({ enum: ['user', 'support', 'admin'] }) role!: string;
  @ApiProperty({ enum: ['free', 'power', 'pro'] }) plan!: string;
  @ApiProperty({ enum: ['active', 'suspended', 'pending_deletion'] }) status!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
}

export class SessionDto {
  @ApiProperty({
    description: 'Session token (JWT) for the dashboard endpoints: `Authorization: Bearer <token>`.',
  })
  token!: string;
  @ApiProperty({ description: 'Seconds until the token expires.' })
  expires_in!: number;
  @ApiProperty({ type: AccountDto })
  account!: AccountDto;
}
