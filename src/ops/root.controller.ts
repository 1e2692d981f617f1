import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiProperty, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ErrorCode } from '../common/errors.js';
import { ApiErrors, INSTANCE_UNAVAILABLE } from '../common/openapi.js';

export class RootDto {
  @ApiProperty({ example: 'Conflux Router' }) name!: string;
  @ApiProperty({ example: 'An OpenAI-compatible API: point an OpenAI SDK at <this server>/v1.' })
  description!: string;
  @ApiProperty({ example: '/v1', description: 'The base URL to give an OpenAI SDK (`baseURL`).' })
  api!: string;
  @ApiProperty({ example: '/docs', description: 'The API reference (Swagger UI).' }) docs!: string;
  @ApiProperty({ example: '/openapi.json', description: 'The OpenAPI document.' }) openapi!: string;
  @ApiProperty({ example: '/v1/status', description: 'Provider and model health.' }) status!: string;
}

const ROOT: RootDto = {
  name: 'Conflux Router',
  description: 'An OpenAI-compatible API: point an OpenAI SDK at <this server>/v1.',
  api: '/v1',
  docs: '/docs',
  openapi: '/openapi.json',
  status: '/v1/status',
};

/**
 * `GET /`: where to go from here. A placeholder for the dashboard, which will take this path: its module replaces
 * this controller (and `docs` stays in the dashboard's links).
 */
@ApiTags('ops')
@Controller()
export class RootController {
  @Get()
  @ApiOperation({ summary: 'Where to start: the API base URL and the docs (the dashboard will live here)' })
  @ApiResponse({ status: 200, type: RootDto, example: ROOT })
  // Reads no database: of the instance's 503s, only a shutting-down one.
  @ApiErrors(ErrorCode.Internal, INSTANCE_UNAVAILABLE[0])
  root(): RootDto {
    return ROOT;
  }
}
