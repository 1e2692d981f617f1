import type { ProviderId } from '../common/provider-ids.js';

/**
 * Where each provider is reached unless `<PROVIDER>_BASE_URL` says otherwise (providers.md §1–§5). Each base
 * carries the version prefix the adapters' paths follow (`/chat/completions`, `/messages`, `/models/...`).
 */
export const DEFAULT_BASE_URLS: Readonly<Record<ProviderId, string>> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com/v1',
  gemini: 'https://generativelanguage.googleapis.com/v1beta',
  cerebras: 'https://api.cerebras.ai/v1',
  groq: 'https://api.groq.com/openai/v1',
};
