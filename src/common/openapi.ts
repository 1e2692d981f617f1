import { ApiProperty } from '@nestjs/swagger';

export class ErrorDetailDto {
  @ApiProperty() message!: string;
  @ApiProperty({ example: 'invalid_request_error' }) type!: string;
  @ApiProperty({ type: String, nullable: true }) param!: string | null;
  @ApiProperty({ type: String, nullable: true }) code!: string | null;
}

/** The OpenAI error envelope, as documented in the spec. */
export class ErrorDto {
  @ApiProperty({ type: ErrorDetailDto }) error!: ErrorDetailDto;
}

/** Security scheme names used in the spec. */
export const API_KEY_AUTH = 'apiKey';
export const SESSION_AUTH = 'session';
