import type { ProviderId } from './provider-ids.js';

/**
 * One place a gateway model is served: a provider and that provider's model id, with its limits and quirks.
 * The catalog describes them (it adds prices); the provider adapters map requests for one. Kept here so that
 * neither of the two depends on the other.
 */
export interface Deployment {
  provider: ProviderId;
  providerModel: string;
  contextWindow: number;
  maxOutputTokens: number;
  /** Request parameters this deployment rejects: sending them → 400 naming the parameter, never dropped. */
  unsupportedParams: string[];
  /** Claude 5.x: `tool_choice` `required`/named is rejected by the provider. */
  forcedToolChoice: boolean;
  /** Maps OpenAI `reasoning_effort` values onto the provider's vocabulary (a missing value = unsupported). */
  reasoningEffort?: Record<string, string>;
}
