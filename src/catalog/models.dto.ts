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
