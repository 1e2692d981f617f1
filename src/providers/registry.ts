import type { ProviderId } from '../common/provider-ids.js';
import { anthropicAdapter } from './anthropic/anthropic.adapter.js';
import { cerebrasAdapter } from './cerebras/cerebras.adapter.js';
import { geminiAdapter } from './gemini/gemini.adapter.js';
import { groqAdapter } from './groq/groq.adapter.js';
import { openaiAdapter } from './openai/openai.adapter.js';
import type { ProviderAdapter } from './types.js';

/** Every provider adapter, by id: the one place that knows which vendors exist. */
export const PROVIDER_ADAPTERS = Symbol('PROVIDER_ADAPTERS');

export const ADAPTERS: Record<ProviderId, ProviderAdapter> = {
  openai: openaiAdapter,
  anthropic: anthropicAdapter,
  gemini: geminiAdapter,
  cerebras: cerebrasAdapter,
  groq: groqAdapter,
};
