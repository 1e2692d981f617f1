import { ApiProperty } from '@nestjs/swagger';
import { IsEmail, IsString, MaxLength, MinLength } from 'class-validator';

export class CredentialsDto {
  @ApiProperty({ example: 'dev@example.com' })
  @IsEmail({}, { message: 'email must be a valid email address' })
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
