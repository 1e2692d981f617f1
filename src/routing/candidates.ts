import type { CatalogDeployment, CatalogModel } from '../catalog/catalog.types.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import type { ProviderId } from '../common/provider-ids.js';
import type { ChatCompletionRequest } from '../providers/openai-types.js';

export interface Candidate {
  model: CatalogModel;
  deployment: CatalogDeployment;
  /** True for the requested model's own deployments, false for fallback models. */
  primary: boolean;
}

export interface CandidateInput {
  request: ChatCompletionRequest;
  /** [requested model, its fallback, the fallback's fallback, …], without cycles. */
  chain: CatalogModel[];
  promptTokens: number;
  /** Is this provider configured (has a key)? */
  enabled: (provider: ProviderId) => boolean;
  /** Health order of a deployment: 0 healthy, 1 degraded, Infinity down/open (skipped). */
  rank: (deployment: CatalogDeployment, model: CatalogModel) => number;
  /** The deployment's current price per million output tokens, to put the cheaper first among equals. */
  cost: (deployment: CatalogDeployment, model: CatalogModel) => bigint;
}

/** Request parameters that are "set" (a client sending the default null does not use the parameter). */
function usedParams(request: ChatCompletionRequest): string[] {
  return Object.entries(request)
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([key]) => key);
}

function needs(request: ChatCompletionRequest): { tools: boolean; images: boolean; jsonSchema: boolean } {
  const images = request.messages.some(
    (m) => m.role === 'user' && Array.isArray(m.content) && m.content.some((p) => p.type === 'image_url'),
  );
  const history = request.messages.some(
    (m) => m.role === 'tool' || (m.role === 'assistant' && m.tool_calls?.length),
  );
  return {
    tools: (request.tools?.length ?? 0) > 0 || history,
    images,
    jsonSchema: request.response_format?.type === 'json_schema',
  };
}

/** Why a model cannot serve the request, or null when it can. */
function modelMismatch(model: CatalogModel, request: ChatCompletionRequest): GatewayError | null {
  const need = needs(request);
  if (need.tools && !model.capabilities.tools) {
    return new GatewayError(
      ErrorCode.UnsupportedParameter,
      `The model \`${model.id}\` does not support tools.`,
      {
        param: 'tools',
      },
    );
  }
  if (need.images && !model.capabilities.images) {
    return new GatewayError(
      ErrorCode.UnsupportedParameter,
      `The model \`${model.id}\` does not accept images.`,
      {
        param: 'messages',
      },
    );
  }
  if (need.jsonSchema && !model.capabilities.jsonSchema) {
    return new GatewayError(
      ErrorCode.UnsupportedParameter,
      `The model \`${model.id}\` does not support json_schema output.`,
      { param: 'response_format' },
    );
  }
  const maxOut = request.max_completion_tokens ?? request.max_tokens;
  if (maxOut && maxOut > model.maxOutputTokens) {
    return new GatewayError(
      ErrorCode.InvalidRequest,
      `max_tokens is too large: ${maxOut}. The model \`${model.id}\` supports at most ${model.maxOutputTokens} completion tokens.`,
      { param: request.max_completion_tokens ? 'max_completion_tokens' : 'max_tokens' },
    );
  }
  return null;
}

function deploymentMismatch(
  deployment: CatalogDeployment,
  model: CatalogModel,
  request: ChatCompletionRequest,
  promptTokens: number,
): GatewayError | null {
  const rejected = usedParams(request).find((p) => deployment.unsupportedParams.includes(p));
  if (rejected) {
    return new GatewayError(
      ErrorCode.UnsupportedParameter,
      `The model \`${model.id}\` does not support the parameter \`${rejected}\`.`,
      { param: rejected },
    );
  }
  const maxOut = request.max_completion_tokens ?? request.max_tokens ?? 0;
  if (promptTokens + maxOut > deployment.contextWindow) {
    return new GatewayError(
      ErrorCode.ContextLengthExceeded,
      `This model's maximum context length is ${deployment.contextWindow} tokens. However, your messages resulted in ` +
        `about ${promptTokens} tokens${maxOut ? ` plus ${maxOut} completion tokens` : ''}. Please reduce the length of the messages.`,
      { param: 'messages' },
    );
  }
  return null;
}

/**
 * The failover chain for a request: the requested model's deployments by preference (healthy before degraded,
 * the cheaper first among equals, down or open ones skipped), then its fallback's, and so on. A deployment or
 * fallback model that cannot honour the request (a parameter, tools, images, the context) is skipped; when the
 * requested model itself cannot, the request is wrong: 400 naming the parameter, before any provider call.
 * Returns an empty list when nothing is available (→ 503).
 */
export function candidates(input: CandidateInput): Candidate[] {
  const { request, chain, promptTokens } = input;
  const out: Candidate[] = [];
  const seen = new Set<string>();
  chain.forEach((model, position) => {
    const primary = position === 0;
    const mismatch = modelMismatch(model, request);
    if (mismatch) {
      if (primary) {
        throw mismatch;
      }
      return;
    }
    const usable: Array<{ deployment: CatalogDeployment; order: number; rank: number; cost: bigint }> = [];
    let firstProblem: GatewayError | null = null;
    model.deployments.forEach((deployment, order) => {
      const problem = deploymentMismatch(deployment, model, request, promptTokens);
      if (problem) {
        firstProblem ??= problem;
        return;
      }
      const key = `${deployment.provider}/${deployment.providerModel}`;
      if (seen.has(key) || !input.enabled(deployment.provider)) {
        return;
      }
      seen.add(key);
      usable.push({
        deployment,
        order,
        rank: input.rank(deployment, model),
        cost: input.cost(deployment, model),
      });
    });
    if (
      primary &&
      usable.length === 0 &&
      firstProblem &&
      model.deployments.every((d) => deploymentMismatch(d, model, request, promptTokens))
    ) {
      throw firstProblem;
    }
    usable
      .filter((u) => Number.isFinite(u.rank))
      .sort(
        (a, b) => a.rank - b.rank || (a.cost < b.cost ? -1 : a.cost > b.cost ? 1 : 0) || a.order - b.order,
      )
      .forEach((u) => out.push({ model, deployment: u.deployment, primary }));
  });
  return out;
}
