import { ApiProperty } from '@nestjs/swagger';
import { PROVIDER_IDS, type ProviderId } from '../common/provider-ids.js';
import type { CatalogDeployment, CatalogModel } from './catalog.types.js';
import { formatCredits } from './credits.js';
import { priceAt } from './pricing.js';

export class ModelPricingDto {
  @ApiProperty({
    enum: PROVIDER_IDS,
    example: 'openai',
    description: 'The provider this price is charged at.',
  })
  provider!: ProviderId;

  @ApiProperty({
    example: '200',
    description: 'Credits per million uncached input tokens (1 credit = $0.01).',
  })
  input_credits_per_million_tokens!: string;

  @ApiProperty({ example: '10', description: 'Credits per million cached input tokens.' })
  cached_input_credits_per_million_tokens!: string;

  @ApiProperty({ example: '1000', description: 'Credits per million output tokens (reasoning included).' })
  output_credits_per_million_tokens!: string;
}

/** One provider serving a model: its limits and what it charges. */
export class ModelDeploymentDto {
  @ApiProperty({ enum: PROVIDER_IDS, example: 'groq' }) provider!: ProviderId;
  @ApiProperty({ example: 131072 }) context_window!: number;
  @ApiProperty({ example: 65536 }) max_output_tokens!: number;
  @ApiProperty({ type: ModelPricingDto }) pricing!: ModelPricingDto;
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
    description:
      'The providers serving the model, in the order they are tried when all are healthy (the cheaper first).',
  })
  providers!: ProviderId[];
  @ApiProperty({
    type: ModelPricingDto,
    description:
      'The current price at the provider that serves the model by default (the first of `providers`): what a ' +
      'request is charged when that provider serves it. A failover bills at the serving provider’s price.',
  })
  pricing!: ModelPricingDto;
  @ApiProperty({
    type: [ModelDeploymentDto],
    description: 'Each provider serving the model, in `providers` order, with its limits and its price.',
  })
  deployments!: ModelDeploymentDto[];
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
  pricing: {
    provider: 'openai',
    input_credits_per_million_tokens: '10',
    cached_input_credits_per_million_tokens: '1',
    output_credits_per_million_tokens: '50',
  },
  deployments: [
    {
      provider: 'openai',
      context_window: 1050000,
      max_output_tokens: 128000,
      pricing: {
        provider: 'openai',
        input_credits_per_million_tokens: '10',
        cached_input_credits_per_million_tokens: '1',
        output_credits_per_million_tokens: '50',
      },
    },
  ],
  fallback: 'claude-haiku-5-5',
  capabilities: {
    tools: true,
    images: true,
    json_schema: true,
  },
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
        pricing: {
          provider: 'anthropic',
          input_credits_per_million_tokens: '200',
          cached_input_credits_per_million_tokens: '20',
          output_credits_per_million_tokens: '1000',
        },
        deployments: [
          {
            provider: 'anthropic',
            context_window: 1000000,
            max_output_tokens: 128000,
            pricing: {
              provider: 'anthropic',
              input_credits_per_million_tokens: '200',
              cached_input_credits_per_million_tokens: '20',
              output_credits_per_million_tokens: '1000',
            },
          },
        ],
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
        pricing: {
          provider: 'groq',
          input_credits_per_million_tokens: '15',
          cached_input_credits_per_million_tokens: '7.5',
          output_credits_per_million_tokens: '60',
        },
        deployments: [
          {
            provider: 'groq',
            context_window: 131072,
            max_output_tokens: 65536,
            pricing: {
              provider: 'groq',
              input_credits_per_million_tokens: '15',
              cached_input_credits_per_million_tokens: '7.5',
              output_credits_per_million_tokens: '60',
            },
          },
          {
            provider: 'cerebras',
            context_window: 131072,
            max_output_tokens: 40000,
            pricing: {
              provider: 'cerebras',
              input_credits_per_million_tokens: '35',
              cached_input_credits_per_million_tokens: '3.5',
              output_credits_per_million_tokens: '75',
            },
          },
        ],
        fallback: 'openai/gpt-oss-20b',
        capabilities: { tools: true, images: false, json_schema: true },
      },
    ],
  },
};

function pricingOf(deployment: CatalogDeployment, model: CatalogModel, at: Date): ModelPricingDto {
  const price = priceAt(deployment, model.id, at);
  return {
    provider: deployment.provider,
    input_credits_per_million_tokens: formatCredits(price.inputPerM),
    cached_input_credits_per_million_tokens: formatCredits(price.cachedInputPerM),
    output_credits_per_million_tokens: formatCredits(price.outputPerM),
  };
}

/**
 * The public view of a catalog model, priced at `at`. Its providers in the order routing tries them when all are
 * equally healthy: the cheaper output first, catalog order breaking ties (see `rank` in src/routing).
 */
export function toModelDto(model: CatalogModel, at: Date): ModelDto {
  const ordered = model.deployments
    .map((deployment, order) => ({ deployment, order, output: priceAt(deployment, model.id, at).outputPerM }))
    .sort((a, b) => (a.output < b.output ? -1 : a.output > b.output ? 1 : a.order - b.order))
    .map((d) => d.deployment);
  const deployments = ordered.map((d) => ({
    provider: d.provider,
    context_window: d.contextWindow,
    max_output_tokens: d.maxOutputTokens,
    pricing: pricingOf(d, model, at),
  }));
  return {
    id: model.id,
    object: 'model',
    created: model.created,
    owned_by: model.ownedBy,
    context_window: model.contextWindow,
    max_output_tokens: model.maxOutputTokens,
    providers: ordered.map((d) => d.provider),
    pricing: deployments[0].pricing,
    deployments,
    fallback: model.fallback,
    capabilities: {
      tools: model.capabilities.tools,
      images: model.capabilities.images,
      json_schema: model.capabilities.jsonSchema,
    },
  };
}
