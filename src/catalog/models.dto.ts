import { ApiProperty } from '@nestjs/swagger';
import { PROVIDER_IDS, type ProviderId } from '../common/provider-ids.js';
import type { CatalogModel } from './catalog.types.js';
import { formatCredits } from './credits.js';
import { priceAt } from './pricing.js';

export class ModelPricingDto {
  @ApiProperty({
    example: '200',
    description: 'Credits per million uncached input tokens (1 credit = $0.01).',
  })
  input!: string;

  @ApiProperty({ example: '10', description: 'Credits per million cached input tokens.' })
  cached_input!: string;

  @ApiProperty({ example: '1000', description: 'Credits per million output tokens (reasoning included).' })
  output!: string;
}

export class ModelCapabilitiesDto {
  @ApiProperty() tools!: boolean;
  @ApiProperty() images!: boolean;
  @ApiProperty() json_schema!: boolean;
}

/** OpenAI's `Model` (`id`, `object`, `created`, `owned_by`) plus the gateway's extras. */
export class ModelDto {
  @ApiProperty({ example: 'gpt-6.2-sol' }) id!: string;
  @ApiProperty({ enum: ['model'] }) object!: 'model';
  @ApiProperty({ description: 'Unix seconds.', example: 1794873600 }) created!: number;
  @ApiProperty({ example: 'openai' }) owned_by!: string;
  @ApiProperty({ description: 'The largest context window (tokens) among the providers serving the model.' })
  context_window!: number;
  @ApiProperty({ description: 'The largest output (tokens) among the providers serving the model.' })
  max_output_tokens!: number;
  @ApiProperty({
    enum: PROVIDER_IDS,
    isArray: true,
    description: 'The providers serving the model, in the order they are tried.',
  })
  providers!: ProviderId[];
  @ApiProperty({
    type: ModelPricingDto,
    description: 'The current price at the preferred provider, in credits per million tokens.',
  })
  pricing!: ModelPricingDto;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The model tried when every provider of this one fails.',
  })
  fallback!: string | null;
  @ApiProperty({ type: ModelCapabilitiesDto }) capabilities!: ModelCapabilitiesDto;
}

export class ModelListDto {
  @ApiProperty({ enum: ['list'] }) object!: 'list';
  @ApiProperty({ type: [ModelDto] }) data!: ModelDto[];
}

const luna = {
  id: 'gpt-6-luna',
  object: 'model',
  created: 1790035200,
  owned_by: 'openai',
  context_window: 1050000,
  max_output_tokens: 128000,
  providers: ['openai'],
  pricing: { input: '10', cached_input: '1', output: '50' },
  fallback: 'claude-haiku-5-5',
  capabilities: { tools: true, images: true, json_schema: true },
};

/** A real answer of `GET /v1/models/gpt-6-luna`. */
export const MODEL_EXAMPLE = { summary: 'gpt-6-luna', value: luna };

/** A real answer of `GET /v1/models`, three of its 16 models. */
export const MODEL_LIST_EXAMPLE = {
  summary: 'The catalog (3 of the 16 models shown)',
  value: {
    object: 'list',
    data: [
      luna,
      {
        id: 'claude-sonnet-5-5',
        object: 'model',
        created: 1790035200,
        owned_by: 'anthropic',
        context_window: 1000000,
        max_output_tokens: 128000,
        providers: ['anthropic'],
        pricing: { input: '200', cached_input: '20', output: '1000' },
        fallback: 'gpt-6.2-sol',
        capabilities: { tools: true, images: true, json_schema: true },
      },
      {
        id: 'openai/gpt-oss-120b',
        object: 'model',
        created: 1754352000,
        owned_by: 'openai',
        context_window: 131072,
        max_output_tokens: 65536,
        providers: ['groq', 'cerebras'],
        pricing: { input: '15', cached_input: '7.5', output: '60' },
        fallback: 'openai/gpt-oss-20b',
        capabilities: { tools: true, images: false, json_schema: true },
      },
    ],
  },
};

/** The public view of a catalog model, priced at `at`. */
export function toModelDto(model: CatalogModel, at: Date): ModelDto {
  const price = priceAt(model.deployments[0], model.id, at);
  return {
    id: model.id,
    object: 'model',
    created: model.created,
    owned_by: model.ownedBy,
    context_window: model.contextWindow,
    max_output_tokens: model.maxOutputTokens,
    providers: model.deployments.map((d) => d.provider),
    pricing: {
      input: formatCredits(price.inputPerM),
      cached_input: formatCredits(price.cachedInputPerM),
      output: formatCredits(price.outputPerM),
    },
    fallback: model.fallback,
    capabilities: {
      tools: model.capabilities.tools,
      images: model.capabilities.images,
      json_schema: model.capabilities.jsonSchema,
    },
  };
}
