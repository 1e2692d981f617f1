import { Inject, Injectable } from '@nestjs/common';
import { CatalogService } from '../catalog/catalog.service.js';
import { priceAt } from '../catalog/pricing.js';
import type { PromptTokens } from '../common/tokens.js';
import { CONFIG, type Config } from '../config/config.js';
import { ProviderHealth } from '../health/provider-health.js';
import type { ChatCompletionRequest } from '../providers/openai-types.js';
import { PROVIDER_ADAPTERS } from '../providers/registry.js';
import type { ProviderId } from '../common/provider-ids.js';
import type { ProviderAdapter, ToolCallState } from '../providers/types.js';
import { feasibleCandidates, rank, type Candidate } from './candidates.js';

/** Where a request can go: the candidates that can serve it (checked once), then their order by health. */
@Injectable()
export class RoutePlanner {
  constructor(
    private readonly catalog: CatalogService,
    private readonly health: ProviderHealth,
    @Inject(PROVIDER_ADAPTERS) private readonly adapters: Record<ProviderId, ProviderAdapter>,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  /**
   * The candidates that can serve the request, in catalog order; a 404 for an unknown model and a 400 naming the
   * parameter when the requested model cannot serve it (the context window included). `anyProvider` (test keys, answered by the mock) checks
   * every provider, configured or not. `toolState` is what earlier turns left for the request's tool calls.
   */
  async feasible(
    request: ChatCompletionRequest,
    prompt: PromptTokens,
    toolState: ReadonlyMap<string, ToolCallState>,
    anyProvider: boolean,
  ): Promise<Candidate[]> {
    const chain = this.catalog.chain(request.model);
    // The bound tells at once that a prompt fits; only one that may not is counted with the tokenizer.
    const output = request.max_completion_tokens ?? request.max_tokens ?? 0;
    const smallest = Math.min(...chain.flatMap((m) => m.deployments.map((d) => d.contextWindow)));
    // A prompt too costly to count is left to the provider to measure (0: no context check here).
    const promptTokens = prompt.upper + output > smallest ? ((await prompt.exact()) ?? 0) : prompt.upper;
    return feasibleCandidates({
      request,
      chain,
      promptTokens,
      enabled: (provider) => anyProvider || this.config.providers[provider].enabled,
      context: (deployment) => ({
        deployment,
        config: this.config.providers[deployment.provider],
        // Provider-bound state is only handed to the provider and model that produced it.
        toolState: new Map(
          [...toolState].filter(
            ([, s]) => s.provider === deployment.provider && s.providerModel === deployment.providerModel,
          ),
        ),
      }),
      build: (c) =>
        this.adapters[c.deployment.provider].buildChatRequest(request, request.stream === true, c.ctx),
    });
  }

  /** The failover order of a live request: down providers and open circuits left out (empty → 503). */
  order(candidates: readonly Candidate[]): Candidate[] {
    const now = new Date();
    return rank(candidates, {
      health: (c) => this.health.rank(c.deployment.provider, c.deployment.providerModel),
      cost: (c) => priceAt(c.deployment, c.model.id, now).outputPerM,
    });
  }
}
