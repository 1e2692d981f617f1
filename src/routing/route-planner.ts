import { Inject, Injectable } from '@nestjs/common';
import { CatalogService } from '../catalog/catalog.service.js';
import { priceAt } from '../catalog/pricing.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import type { PromptTokens } from '../common/tokens.js';
import { CONFIG, type Config } from '../config/config.js';
import { ProviderHealth } from '../health/provider-health.js';
import type { ChatCompletionRequest } from '../providers/openai-types.js';
import { PROVIDER_ADAPTERS } from '../providers/registry.js';
import type { ProviderId } from '../common/provider-ids.js';
import type { ProviderAdapter, ToolCallState, UpstreamRequest } from '../providers/types.js';
import type { CatalogModel } from '../catalog/catalog.types.js';
import { feasibleCandidates, rank, type Candidate } from './candidates.js';
import type { RoutePreferences } from './preferences.js';

/**
 * The models of the chain a key with `allowed_models` may be served by: every model the request names (`model`, or
 * each entry of `models`) must be allowed, else 403 naming it; a catalog fallback that is not allowed is skipped
 * (the request did not ask for it).
 */
function allowedOnly(
  chain: readonly CatalogModel[],
  model: string,
  preferences: RoutePreferences,
  allowed: readonly string[] | null,
): readonly CatalogModel[] {
  if (allowed === null) {
    return chain;
  }
  const named = preferences.models ?? [model];
  named.forEach((id, i) => {
    if (!allowed.includes(id)) {
      throw new GatewayError(
        ErrorCode.ModelNotAllowed,
        `This API key is not allowed to use the model \`${id}\`. It may use: ${allowed.join(', ')}. ` +
          'Change its allowed_models (PATCH /v1/keys/{id}) or use another key.',
        { param: preferences.models ? `models[${i}]` : 'model' },
      );
    }
  });
  return chain.filter((m) => allowed.includes(m.id));
}

/** Parameters that only tune randomness: left out where a provider cannot take them (see `build`). */
const SAMPLING: ReadonlySet<string> = new Set([
  'temperature',
  'top_p',
  'frequency_penalty',
  'presence_penalty',
  'seed',
]);
const NONE: ReadonlySet<string> = new Set();

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
    options: {
      anyProvider: boolean;
      strict: boolean;
      preferences: RoutePreferences;
      /** The key's `allowed_models` (null: every model). */
      allowedModels?: readonly string[] | null;
    },
  ): Promise<Candidate[]> {
    const chain = allowedOnly(
      this.chain(request.model, options.preferences),
      request.model,
      options.preferences,
      options.allowedModels ?? null,
    );
    // The bound tells at once that a prompt fits; only one that may not is counted with the tokenizer.
    const output = request.max_completion_tokens ?? request.max_tokens ?? 0;
    const smallest = Math.min(...chain.flatMap((m) => m.deployments.map((d) => d.contextWindow)));
    // A prompt too costly to count is left to the provider to measure (0: no context check here).
    const promptTokens = prompt.upper + output > smallest ? ((await prompt.exact()) ?? 0) : prompt.upper;
    return feasibleCandidates({
      request,
      chain,
      promptTokens,
      enabled: (provider) => options.anyProvider || this.config.providers[provider].enabled,
      droppable: options.strict ? NONE : SAMPLING,
      preferences: options.preferences,
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
      build: (c) => this.build(request, c, options.strict),
    });
  }

  /**
   * The models a request may be served by: its `models` list (every entry a known model, else the 404 naming it),
   * or the model and the catalog's fallback chain; only its own models when fallbacks are not allowed.
   */
  private chain(model: string, preferences: RoutePreferences): readonly CatalogModel[] {
    if (preferences.models) {
      return preferences.models.map((id, i) => {
        const known = this.catalog.get(id);
        if (!known) {
          throw new GatewayError(
            ErrorCode.ModelNotFound,
            `The model \`${id}\` does not exist or you do not have access to it.`,
            { param: `models[${i}]` },
          );
        }
        return known;
      });
    }
    const chain = this.catalog.chain(model);
    return preferences.allowFallbacks ? chain : chain.slice(0, 1);
  }

  /**
   * The provider request for a candidate. A sampling knob the deployment cannot take (its catalog entry says so,
   * or its adapter refuses it) is left out and named in `candidate.dropped`, unless the client asked for strict
   * parameters: then it is the adapter's 400 naming the parameter, as for everything that changes the answer's
   * contract (tools, response_format, n, images, logprobs), which is never dropped.
   */
  build(request: ChatCompletionRequest, candidate: Candidate, strict: boolean): UpstreamRequest {
    const adapter = this.adapters[candidate.deployment.provider];
    const dropped: string[] = [];
    let sent = request;
    const drop = (param: string) => {
      sent = { ...sent, [param]: undefined };
      dropped.push(param);
    };
    const used = (param: string) => (sent as unknown as Record<string, unknown>)[param] != null;
    if (!strict) {
      candidate.deployment.unsupportedParams.filter((p) => SAMPLING.has(p) && used(p)).forEach(drop);
    }
    for (;;) {
      try {
        const upstream = adapter.buildChatRequest(sent, request.stream === true, candidate.ctx);
        candidate.dropped = dropped;
        return upstream;
      } catch (error) {
        const param = error instanceof GatewayError ? error.param : null;
        const refused = error instanceof GatewayError && error.code === ErrorCode.UnsupportedParameter;
        if (strict || !refused || !param || !SAMPLING.has(param) || !used(param)) {
          throw error;
        }
        drop(param);
      }
    }
  }

  /**
   * The failover order of a live request (`provider.order` first, then by `provider.sort`): down providers and
   * open circuits left out (empty → 503).
   */
  async order(candidates: readonly Candidate[], preferences: RoutePreferences): Promise<Candidate[]> {
    await this.health.prepare(candidates.map((c) => c.deployment));
    const now = new Date();
    const cost = (c: Candidate) => priceAt(c.deployment, c.model.id, now).outputPerM;
    const left = new Set<Candidate>();
    const ordered = rank(candidates, {
      health: (c) => {
        const value = this.health.rank(c.deployment.provider, c.deployment.providerModel);
        if (!Number.isFinite(value)) {
          left.add(c);
        }
        return value;
      },
      cost,
      latency: (c) => this.health.latency(c.deployment.provider, c.deployment.providerModel)?.ttftMs ?? null,
      sort: preferences.sort,
      first: preferences.order,
    });
    if (left.size > 0) {
      // Skipped: left out, and ahead of the first candidate tried in the order health would not change.
      for (const c of rank(candidates, { health: () => 0, cost })) {
        if (c === ordered[0]) {
          break;
        }
        if (left.has(c)) {
          this.health.recordSkipped(c.deployment.provider);
        }
      }
    }
    return ordered;
  }
}
