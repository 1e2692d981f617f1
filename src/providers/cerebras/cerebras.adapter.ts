import {
  OPENAI_ONLY_BOOKKEEPING,
  OPENAI_ONLY_FEATURES,
  openAiCompatible,
} from '../openai-compatible/openai-compatible.js';
import type { ProviderAdapter } from '../types.js';

/**
 * Cerebras (providers.md §4; the probe is GET {base}/models; inference-docs.cerebras.ai/resources/openai "Currently unsupported OpenAI
 * features"): 400 on penalties, logit_bias, parallel_tool_calls and service_tier; `store`, `prompt_cache_key`
 * and `verbosity` are ignored platform features, left out. Usage always arrives on the final stream chunk, so
 * no `stream_options` is sent. Errors are flat bodies (no `error` envelope), which the shared mapper reads.
 */
export const cerebrasAdapter: ProviderAdapter = openAiCompatible({
  id: 'cerebras',
  unsupported: [
    'frequency_penalty',
    'presence_penalty',
    'logit_bias',
    'parallel_tool_calls',
    'service_tier',
    ...OPENAI_ONLY_FEATURES,
  ],
  strip: [...OPENAI_ONLY_BOOKKEEPING, 'verbosity'],
  multipleChoices: false,
  messageNames: true,
  developerRole: false,
  assistantRefusal: false,
  safetyIdentifier: false,
  contentParts: ['text', 'image_url'],
});
