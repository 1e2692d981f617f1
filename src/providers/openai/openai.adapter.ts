import { openAiCompatible } from '../openai-compatible/openai-compatible.js';
import type { ProviderAdapter } from '../types.js';

/**
 * OpenAI (providers.md §1; the probe is GET {base}/models) is the reference: every OpenAI parameter passes through. Streams always ask for usage so the gateway
 * can bill; obfuscation padding is turned off because the gateway re-frames the chunks and would drop it.
 */
export const openaiAdapter: ProviderAdapter = openAiCompatible({
  id: 'openai',
  multipleChoices: true,
  messageNames: true,
  developerRole: true,
  assistantRefusal: true,
  safetyIdentifier: true,
  streamOptions: { include_usage: true, include_obfuscation: false },
});
