import type { CatalogDeployment, CatalogModel } from '../catalog/catalog.types.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import type { ChatCompletionRequest } from '../providers/openai-types.js';
import type { ProviderId } from '../common/provider-ids.js';
import type { MapContext, UpstreamRequest } from '../providers/types.js';
import {
  DEFAULT_PREFERENCES,
  providerAllowed,
  restrictingParam,
  type RoutePreferences,
  type RouteSort,
} from './preferences.js';

/** One place the request may be served: a model of the chain at one of its providers. */
export interface Candidate {
  model: CatalogModel;
  deployment: CatalogDeployment;
  /** True for the requested model's own deployments, false for fallback models. */
  primary: boolean;
  /** Position of the deployment in its model's preference order (breaks ties in ranking). */
  order: number;
  /** What the adapter needs to map the request and read the answer. */
  ctx: MapContext;
  /** The provider request, when already built (the requested model's deployments are built while checking). */
  upstream?: UpstreamRequest;
  /** Sampling parameters left out of the provider request because this deployment cannot take them. */
  dropped?: string[];
}

/** Why a deployment was left out: a reason code, not an error object (most requests skip none). */
type Skip =
  | { reason: 'tools' | 'images' | 'json_schema' | 'max_tokens' }
  | { reason: 'parameter'; param: string }
  | { reason: 'context'; window: number };

export interface FeasibilityInput {
  request: ChatCompletionRequest;
  /** [requested model, its fallback, the fallback's fallback, …], without cycles. */
  chain: readonly CatalogModel[];
  promptTokens: number;
  /** Is this provider configured (has a key)? */
  enabled: (provider: ProviderId) => boolean;
  /** The adapter context for a deployment. */
  context: (deployment: CatalogDeployment) => MapContext;
  /** Maps the request for a deployment; throws `GatewayError` when that provider cannot honour it. */
  build: (candidate: Candidate) => UpstreamRequest;
  /** Parameters a deployment that cannot take them leaves out (sampling knobs) instead of refusing the request. */
  droppable: ReadonlySet<string>;
  /** The request's `provider` preferences: which providers may serve it (default: any). */
  preferences?: RoutePreferences;
}

/** Request parameters that are "set" (a client sending the default null does not use the parameter). */
function usedParams(request: ChatCompletionRequest): string[] {
  return Object.entries(request)
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([key]) => key);
}

function outputLimit(request: ChatCompletionRequest): number | undefined {
  return request.max_completion_tokens ?? request.max_tokens ?? undefined;
}

function modelSkip(model: CatalogModel, request: ChatCompletionRequest): Skip | null {
  const images = request.messages.some(
    (m) => m.role === 'user' && Array.isArray(m.content) && m.content.some((p) => p.type === 'image_url'),
  );
  const toolHistory = request.messages.some(
    (m) => m.role === 'tool' || (m.role === 'assistant' && m.tool_calls?.length),
  );
  if (((request.tools?.length ?? 0) > 0 || toolHistory) && !model.capabilities.tools) {
    return { reason: 'tools' };
  }
  if (images && !model.capabilities.images) {
    return { reason: 'images' };
  }
  if (request.response_format?.type === 'json_schema' && !model.capabilities.jsonSchema) {
    return { reason: 'json_schema' };
  }
  const maxOut = outputLimit(request);
  if (maxOut && maxOut > model.maxOutputTokens) {
    return { reason: 'max_tokens' };
  }
  return null;
}

function deploymentSkip(
  deployment: CatalogDeployment,
  request: ChatCompletionRequest,
  used: readonly string[],
  promptTokens: number,
  droppable: ReadonlySet<string>,
): Skip | null {
  const param = used.find((p) => deployment.unsupportedParams.includes(p) && !droppable.has(p));
  if (param) {
    return { reason: 'parameter', param };
  }
  if (promptTokens + (outputLimit(request) ?? 0) > deployment.contextWindow) {
    return { reason: 'context', window: deployment.contextWindow };
  }
  return null;
}

/** The 400 a request gets when the model it names cannot serve it, for the first reason found. */
function refusal(
  skip: Skip,
  model: CatalogModel,
  request: ChatCompletionRequest,
  prompt: number,
): GatewayError {
  const unsupported = (message: string, param: string) =>
    new GatewayError(ErrorCode.UnsupportedParameter, message, { param });
  switch (skip.reason) {
    case 'tools':
      return unsupported(`The model \`${model.id}\` does not support tools.`, 'tools');
    case 'images':
      return unsupported(`The model \`${model.id}\` does not accept images.`, 'messages');
    case 'json_schema':
      return unsupported(`The model \`${model.id}\` does not support json_schema output.`, 'response_format');
    case 'parameter':
      return unsupported(
        `The model \`${model.id}\` does not support the parameter \`${skip.param}\`.`,
        skip.param,
      );
    case 'max_tokens':
      return new GatewayError(
        ErrorCode.InvalidRequest,
        `max_tokens is too large: ${outputLimit(request)}. The model \`${model.id}\` supports at most ` +
          `${model.maxOutputTokens} completion tokens.`,
        { param: request.max_completion_tokens ? 'max_completion_tokens' : 'max_tokens' },
      );
    case 'context': {
      const maxOut = outputLimit(request);
      return new GatewayError(
        ErrorCode.ContextLengthExceeded,
        `This model's maximum context length is ${skip.window} tokens. However, your messages resulted in ` +
          `about ${prompt} tokens${maxOut ? ` plus ${maxOut} completion tokens` : ''}. Please reduce the length ` +
          'of the messages.',
        { param: 'messages' },
      );
    }
  }
}

/**
 * Can any candidate serve this request? Every deployment of every model of the chain is checked once against
 * what the request needs (tools, images, json_schema, output limit, parameters, the context window); the
 * requested model's deployments are also mapped by their adapter, which knows each provider's own refusals.
 * When none of the requested model's deployments can serve it, the request is wrong: the one 400 (naming the
 * parameter) comes from here, before any hold or provider call. Fallback models that cannot are left out.
 *
 * Returns the feasible candidates in catalog order; `rank()` orders them by health for a live request.
 */
export function feasibleCandidates(input: FeasibilityInput): Candidate[] {
  const { request, chain, promptTokens } = input;
  const prefs = input.preferences ?? DEFAULT_PREFERENCES;
  const used = usedParams(request);
  const out: Candidate[] = [];
  const seen = new Set<string>();
  chain.forEach((model, position) => {
    const primary = position === 0;
    // The client's provider choice comes first: a choice that leaves the model no provider is its own 400.
    const deployments = model.deployments.filter((d) => providerAllowed(prefs, d.provider));
    if (deployments.length === 0) {
      if (primary) {
        throw new GatewayError(
          ErrorCode.InvalidRequest,
          `No provider allowed by \`${restrictingParam(prefs)}\` serves the model \`${model.id}\` (served by ` +
            `${model.deployments.map((d) => d.provider).join(', ')}).`,
          { param: restrictingParam(prefs) },
        );
      }
      return;
    }
    const skipped = modelSkip(model, request);
    if (skipped) {
      if (primary) {
        throw refusal(skipped, model, request, promptTokens);
      }
      return;
    }
    const skips: Skip[] = [];
    let mapped = 0;
    let refusedByAdapter: GatewayError | null = null;
    deployments.forEach((deployment) => {
      const order = model.deployments.indexOf(deployment);
      const skip = deploymentSkip(deployment, request, used, promptTokens, input.droppable);
      if (skip) {
        skips.push(skip);
        return;
      }
      const key = `${deployment.provider}/${deployment.providerModel}`;
      if (seen.has(key) || !input.enabled(deployment.provider)) {
        return;
      }
      const candidate: Candidate = { model, deployment, primary, order, ctx: input.context(deployment) };
      if (primary) {
        mapped += 1;
        try {
          candidate.upstream = input.build(candidate);
        } catch (error) {
          if (!(error instanceof GatewayError)) {
            throw error;
          }
          refusedByAdapter ??= error;
          return;
        }
      }
      seen.add(key);
      out.push(candidate);
    });
    if (primary) {
      // The model cannot serve it anywhere (or every configured provider of it refuses it): the client's error.
      if (skips.length === deployments.length) {
        throw refusal(skips[0], model, request, promptTokens);
      }
      if (refusedByAdapter && !out.some((c) => c.primary) && mapped > 0) {
        throw refusedByAdapter;
      }
    }
  });
  return out;
}

export interface RankInput {
  /** 0 healthy, 1 degraded, Infinity down or open (skipped). May hand out a half-open trial: ask once each. */
  health: (candidate: Candidate) => number;
  /** The deployment's current price per million output tokens: the cheaper first among equally healthy. */
  cost: (candidate: Candidate) => bigint;
  /** The deployment's expected time to first token (ms) from what was measured, or null when nothing is known. */
  latency?: (candidate: Candidate) => number | null;
  /** What orders a model's deployments (default `health`). */
  sort?: RouteSort;
  /** Providers to try first, in this order (`provider.order`), before the sort applies to the rest. */
  first?: readonly string[] | null;
}

type Scored = { candidate: Candidate; index: number; health: number; cost: bigint; latency: number };

const byHealth = (a: Scored, b: Scored) => a.health - b.health;
const byCost = (a: Scored, b: Scored) => (a.cost < b.cost ? -1 : a.cost > b.cost ? 1 : 0);
// Unknown latency (Infinity) after every measured one; two unknowns are equal.
const byLatency = (a: Scored, b: Scored) =>
  a.latency === b.latency ? 0 : a.latency < b.latency ? -1 : a.latency > b.latency ? 1 : 0;
const SORTS: Record<RouteSort, Array<(a: Scored, b: Scored) => number>> = {
  health: [byHealth, byCost, byLatency],
  price: [byCost, byHealth, byLatency],
  latency: [byLatency, byHealth, byCost],
};

/**
 * The failover order: each model of the chain in turn (the requested model first), and within a model the
 * providers of `first` in their order, then its deployments by `sort`: by default healthy before degraded, the
 * cheaper first among equals, the faster (measured time to first token) among equally priced, catalog order
 * breaking ties. Down deployments and open circuits are left out. An empty result means nothing is available
 * (→ 503).
 */
export function rank(candidates: readonly Candidate[], by: RankInput): Candidate[] {
  const scored: Scored[] = candidates
    .map((candidate, index) => ({
      candidate,
      index,
      health: by.health(candidate),
      cost: by.cost(candidate),
      latency: by.latency?.(candidate) ?? Infinity,
    }))
    .filter((s) => Number.isFinite(s.health));
  const position = new Map<CatalogModel, number>();
  for (const { candidate } of scored) {
    if (!position.has(candidate.model)) {
      position.set(candidate.model, position.size);
    }
  }
  const first = by.first ?? [];
  const pinned = (s: Scored) => {
    const at = first.indexOf(s.candidate.deployment.provider);
    return at < 0 ? first.length : at;
  };
  const keys = SORTS[by.sort ?? 'health'];
  return scored
    .sort((a, b) => {
      const model = position.get(a.candidate.model)! - position.get(b.candidate.model)!;
      if (model !== 0) {
        return model;
      }
      const pin = pinned(a) - pinned(b);
      if (pin !== 0) {
        return pin;
      }
      for (const key of keys) {
        const c = key(a, b);
        if (c !== 0) {
          return c;
        }
      }
      return a.candidate.order - b.candidate.order || a.index - b.index;
    })
    .map((s) => s.candidate);
}
