import { Controller, createParamDecorator, type ExecutionContext, Get, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ErrorCode } from '../common/errors.js';
import { API_KEY_AUTH, API_KEY_ERRORS, ApiErrors, SERVER_ERRORS } from '../common/openapi.js';
import { ApiKeyGuard } from '../keys/guards.js';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard.js';
import { CatalogService } from './catalog.service.js';
import { MODEL_EXAMPLE, MODEL_LIST_EXAMPLE, ModelDto, ModelListDto, toModelDto } from './models.dto.js';

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
@UseGuards(ApiKeyGuard, RateLimitGuard)
@Controller('v1/models')
export class ModelsController {
  constructor(private readonly catalog: CatalogService) {}

  @Get()
  @ApiOperation({
    summary: 'List the models (OpenAI list shape, plus providers, context, pricing, fallback)',
  })
  @ApiResponse({ status: 200, type: ModelListDto, examples: { catalog: MODEL_LIST_EXAMPLE } })
  @ApiErrors(...API_KEY_ERRORS, ...SERVER_ERRORS)
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
  @ApiResponse({ status: 200, type: ModelDto, examples: { model: MODEL_EXAMPLE } })
  @ApiErrors(...API_KEY_ERRORS, ...SERVER_ERRORS, {
    error: ErrorCode.ModelNotFound,
    message: 'The model `gpt-0` does not exist or you do not have access to it.',
    param: 'model',
  })
  retrieve(@ModelIdParam() id: string): ModelDto {
    return toModelDto(this.catalog.require(id), new Date());
  }
}
