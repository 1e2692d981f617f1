import { ApiProperty } from '@nestjs/swagger';
import { isEmail, IsString, MaxLength, MinLength, ValidateBy } from 'class-validator';
import { IsNewPassword, PASSWORD_MAX, PASSWORD_MIN } from './password-policy.js';

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

const NEW_PASSWORD = {
  minLength: PASSWORD_MIN,
  maxLength: PASSWORD_MAX,
  example: 'correct horse battery staple',
  description:
    `A new password: ${PASSWORD_MIN} to ${PASSWORD_MAX} characters, not one of the 10,000 most common passwords ` +
    '(nor one of them with digits or symbols added at the end), with at least 5 different characters.',
};

/** Sign-up (and a staff account an admin creates): the password policy applies. */
export class CredentialsDto {
  @ApiProperty({ example: 'dev@example.com' })
  @IsEmailAddress('email must be a valid email address')
  @MaxLength(254)
  email!: string;

  @ApiProperty(NEW_PASSWORD)
  @IsString()
  @IsNewPassword()
  password!: string;
}

/** Log-in: any password of the account (older accounts may have one shorter than today's minimum). */
export class LoginDto {
  @ApiProperty({ example: 'dev@example.com' })
  @IsEmailAddress('email must be a valid email address')
  @MaxLength(254)
  email!: string;

  @ApiProperty({ maxLength: PASSWORD_MAX, example: 'correct horse battery staple' })
  @IsString()
  @MinLength(1, { message: 'password must not be empty' })
  @MaxLength(PASSWORD_MAX, { message: `password must be at most ${PASSWORD_MAX} characters` })
  password!: string;
}

export class TokenDto {
  @ApiProperty({
    description: 'The `token` of the link in the mail.',
    example: 'q3Yx0m1bV5mX8y0tQm3ZkG9xR2f7pL1cN4sW6uJ8aE0',
  })
  @IsString()
  @MinLength(1, { message: 'token must not be empty' })
  @MaxLength(128, { message: 'token must be at most 128 characters' })
  token!: string;
}

export class ForgotPasswordDto {
  @ApiProperty({ example: 'dev@example.com' })
  @IsEmailAddress('email must be a valid email address')
  @MaxLength(254)
  email!: string;
}

export class ResetPasswordDto extends TokenDto {
  @ApiProperty(NEW_PASSWORD)
  @IsString()
  @IsNewPassword()
  password!: string;
}

export class ChangePasswordDto {
  @ApiProperty({ maxLength: PASSWORD_MAX, example: 'my old pass phrase' })
  @IsString()
  @MinLength(1, { message: 'current_password must not be empty' })
  @MaxLength(PASSWORD_MAX, { message: `current_password must be at most ${PASSWORD_MAX} characters` })
  current_password!: string;

  @ApiProperty(NEW_PASSWORD)
  @IsString()
  @IsNewPassword()
  password!: string;
}

export class VerificationDto {
  @ApiProperty({ enum: ['email_verification'] }) object!: string;
  @ApiProperty({ enum: [true] }) verified!: boolean;
  @ApiProperty({
    description:
      "Whether this verification added the Free plan's credits (false when the address, normalised, had them already).",
  })
  credits_granted!: boolean;
}

export class ResendDto {
  @ApiProperty({ enum: ['email_verification'] }) object!: string;
  @ApiProperty({ enum: [true] }) sent!: boolean;
}

export class ForgotAnswerDto {
  @ApiProperty({ enum: ['password_reset_request'] }) object!: string;
  @ApiProperty() message!: string;
}

export class PasswordChangeDto {
  @ApiProperty({ enum: ['password_change'] }) object!: string;
  @ApiProperty({ enum: [true] }) changed!: boolean;
  @ApiProperty({ description: 'Sessions the change ended.' }) sessions_ended!: number;
}

export class LogoutAllDto {
  @ApiProperty({ enum: ['logout'] }) object!: string;
  @ApiProperty({ description: 'Sessions ended (log-out: this one; log-out everywhere: every one).' })
  sessions_ended!: number;
}

export class AccountDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() email!: string;
  @ApiProperty({ enum: ['user', 'support', 'admin'] }) role!: string;
  @ApiProperty({ enum: ['free', 'power', 'pro'] }) plan!: string;
  @ApiProperty({ enum: ['active', 'suspended', 'pending_deletion', 'deleted'] }) status!: string;
  @ApiProperty({
    description: 'Whether the address is verified (live keys wait for it when it is required).',
  })
  email_verified!: boolean;
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
      email_verified: false,
      created_at: '2026-11-30T04:22:59.235Z',
    },
  },
};
