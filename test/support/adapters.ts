import type { Deployment } from '../../src/common/deployment.js';
import type { ProviderId } from '../../src/common/provider-ids.js';
import type { MapContext, ProviderConfig, StreamPart, ToolCallState } from '../../src/providers/types.js';

/**
 * What the adapter specs and tests map with when they are not about it: one typical deployment per provider (its
 * catalog-like limits and `reasoning_effort` vocabulary) and a config for its public base URL with a dummy key.
 */
const DEFAULTS: Record<
  ProviderId,
  { deployment: Omit<Deployment, 'provider'>; config: Omit<ProviderConfig, 'id'> }
> = {
  openai: {
    deployment: {
      providerModel: 'gpt-6.2-sol',
      contextWindow: 1_050_000,
      maxOutputTokens: 128_000,
      unsupportedParams: [],
      forcedToolChoice: true,
      reasoningEffort: {
        none: 'low',
        minimal: 'low',
        low: 'low',
        medium: 'medium',
        high: 'high',
        xhigh: 'xhigh',
      },
    },
    config: { baseUrl: 'https://api.openai.com/v1', apiKey: 'sk-test' },
  },
  anthropic: {
    deployment: {
      providerModel: 'claude-sonnet-5-5',
      contextWindow: 1_000_000,
      maxOutputTokens: 64_000,
      unsupportedParams: [],
      forcedToolChoice: true,
      reasoningEffort: { low: 'low', medium: 'medium', high: 'high' },
    },
    config: { baseUrl: 'https://api.anthropic.com/v1', apiKey: 'sk-ant-test' },
  },
  gemini: {
    deployment: {
      providerModel: 'gemini-3.8-flash',
      contextWindow: 1_048_576,
      maxOutputTokens: 65_536,
      unsupportedParams: [],
      forcedToolChoice: false,
      reasoningEffort: { minimal: 'MINIMAL', low: 'LOW', medium: 'MEDIUM', high: 'HIGH' },
    },
    config: { baseUrl: 'https://generativelanguage.googleapis.com/v1beta', apiKey: 'AIza-test' },
  },
  cerebras: {
    deployment: {
      providerModel: 'gpt-oss-120b',
      contextWindow: 131_072,
      maxOutputTokens: 40_000,
      unsupportedParams: [],
      forcedToolChoice: true,
      reasoningEffort: { low: 'low', medium: 'medium', high: 'high' },
    },
    config: { baseUrl: 'https://api.cerebras.ai/v1', apiKey: 'csk-test' },
  },
  groq: {
    deployment: {
      providerModel: 'qwen/qwen3.8-27b',
      contextWindow: 131_042,
      maxOutputTokens: 16_384,
      unsupportedParams: [],
      forcedToolChoice: true,
      reasoningEffort: { none: 'none', low: 'low', medium: 'medium', high: 'high' },
    },
    config: { baseUrl: 'https://api.groq.com/openai/v1', apiKey: 'gsk_test' },
  },
};

export interface ContextOptions {
  /** The provider's model id (`deployment.providerModel`). */
  model?: string;
  /** Deployment fields that differ from the provider's typical one. */
  deployment?: Partial<Omit<Deployment, 'provider'>>;
  /** Where the adapter sends it (a fake's base URL and key) and Anthropic's version. */
  config?: Partial<Omit<ProviderConfig, 'id'>>;
  /** State saved for earlier tool calls, by tool_call id. */
  toolState?: Iterable<[string, ToolCallState]>;
}

/** The context an adapter maps a request or an answer with, as the chat service builds it for one deployment. */
export function mapContext(provider: ProviderId, options: ContextOptions = {}): MapContext {
  const defaults = DEFAULTS[provider];
  return {
    deployment: {
      provider,
      ...defaults.deployment,
      ...(options.model === undefined ? {} : { providerModel: options.model }),
      ...options.deployment,
    },
    config: { id: provider, ...defaults.config, ...options.config },
    toolState: new Map(options.toolState ?? []),
  };
}

/** A body delivered in the given pieces (split anywhere, like TCP does). */
export async function* bodyOf(...pieces: string[]): AsyncIterable<Uint8Array> {
  const encoder = new TextEncoder();
  for (const piece of pieces) {
    yield encoder.encode(piece);
  }
}

export async function collect(parts: AsyncIterable<StreamPart>): Promise<StreamPart[]> {
  const out: StreamPart[] = [];
  for await (const part of parts) {
    out.push(part);
  }
  return out;
}
