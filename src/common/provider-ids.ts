/**
 * The providers the gateway knows, by id. It sits in common/ because the catalog (which provider serves a
 * model), config, health, billing and the adapters all name providers, and none of them may depend on another
 * for that; the adapters themselves live in providers/ (registry.ts is the one place that maps an id to one).
 */
export const PROVIDER_IDS = ['openai', 'anthropic', 'gemini', 'cerebras', 'groq'] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];
