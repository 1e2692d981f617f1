import {
  OPENAI_ONLY_BOOKKEEPING,
  OPENAI_ONLY_FEATURES,
  openAiCompatible,
} from '../openai-compatible/openai-compatible.js';
import type { ProviderAdapter } from '../types.js';

/**
 * Groq (providers.md §5; the probe is GET {base}/models; console.groq.com/docs/openai "Currently unsupported OpenAI features"): 400 when
 * `logprobs`, `logit_bias`, `top_logprobs` or `messages[].name` is present, and `n` must be 1. Its service tiers
 * are auto|on_demand|flex|performance: OpenAI's `auto` and `flex` mean the same there. Stream usage comes in
 * `x_groq.usage` on the final chunk (read by the shared stream parser); 498 `capacity_exceeded` (flex tier
 * full) is worth retrying elsewhere.
 */
export const groqAdapter: ProviderAdapter = openAiCompatible({
  id: 'groq',
  unsupported: ['logprobs', 'logit_bias', 'top_logprobs', ...OPENAI_ONLY_FEATURES],
  strip: [...OPENAI_ONLY_BOOKKEEPING, 'verbosity'],
  allowedValues: { service_tier: ['auto', 'flex'] },
  multipleChoices: false,
  messageNames: false,
  developerRole: false,
  assistantRefusal: false,
  safetyIdentifier: false,
  contentParts: ['text', 'image_url'],
  streamOptions: { include_usage: true },
  retryableStatuses: [498],
});
