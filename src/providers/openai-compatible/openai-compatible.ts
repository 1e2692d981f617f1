import type { ProviderAdapter } from '../types.js';
import { mapError } from './errors.js';
import type { OpenAiCompatibleOptions } from './options.js';
import { buildChatRequest, buildProbeRequest } from './request.js';
import { parseChatResponse } from './response.js';
import { parseStream } from './stream.js';

export type { OpenAiCompatibleOptions } from './options.js';
export { NO_OP_VALUES, OPENAI_ONLY_BOOKKEEPING, OPENAI_ONLY_FEATURES } from './options.js';

/**
 * One adapter for every provider that speaks OpenAI Chat Completions; what differs is configuration
 * (providers.md §1, §4, §5). The base URL of each provider includes its version prefix.
 */
export function openAiCompatible(options: OpenAiCompatibleOptions): ProviderAdapter {
  return {
    id: options.id,
    buildChatRequest: (request, stream, ctx) => buildChatRequest(options, request, stream, ctx),
    parseChatResponse: (body) => parseChatResponse(body),
    parseStream: (body) => parseStream(options, body),
    mapError: (status, bodyText, headers) => mapError(options, status, bodyText, headers),
    probeRequest: (config) => buildProbeRequest(config),
  };
}
