import { Controller, createParamDecorator, type ExecutionContext, Get, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { API_KEY_AUTH, ErrorDto } from '../common/openapi.js';
import { ApiKeyGuard } from '../keys/guards.js';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard.js';
import { CatalogService } from './catalog.service.js';
import { ModelDto, ModelListDto, toModelDto } from './models.dto.js';

/**
 * The model id of `GET /v1/models/*`. Ids may contain "/" (`openai/gpt-oss-120b`), so the route ends with
 * find-my-way's wildcard, which matches the rest of the path whether the client sends the "/" as is or as %2F
 * (the OpenAI SDK does). Read here rather than with `@Param('*')`, which Swagger would document as a parameter
 * named "*" that the path (`/v1/models/{path}`) does not have.
 */
const ModelIdParam = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): string =>
    (ctx.switchToHttp().getRequest<FastifyRequest>().params as Record<string, string>)['*'] ?? '',
);

@ApiTags('models')
@ApiBearerAuth(API_KEY_AUTH)
@ApiResponse({ status: 401, type: ErrorDto })
@ApiResponse({ status: 429, type: ErrorDto })
@UseGuards(ApiKeyGuard, RateLimitGuard)
@Controller('v1/models')
export class ModelsController {
  constructor(private readonly catalog: CatalogService) {}

  @Get()
  @ApiOperation({
    summary: 'List the models (OpenAI list shape, plus providers, context, pricing, fallback)',
  })
  @ApiResponse({ status: 200, type: ModelListDto })
  list(): ModelListDto {
    const now = new Date();
    return { object: 'list', data: this.catalog.list().map((model) => toModelDto(model, now)) };
  }

  @Get('*')
  @ApiOperation({ summary: 'Retrieve one model' })
  @ApiParam({
    name: 'path',
    type: String,
    description: 'The model id; it may contain "/" (e.g. `gpt-6.2-sol`, `openai/gpt-oss-120b`).',
  })
  @ApiResponse({ status: 200, type: ModelDto })
  @ApiResponse({ status: 404, type: ErrorDto, description: '`model_not_found`' })
  retrieve(@ModelIdParam() id: string): ModelDto {
    return toModelDto(this.catalog.require(id), new Date());
  }
}
