import { endpoint } from '../wire/http.js';
/**
 * The Anthropic Messages API adapter (providers.md §2). Pure mapping: the gateway does the HTTP.
 * Request mapping in request.ts, response in response.ts, stream in stream.ts, errors in errors.ts.
 */
import type { ChatCompletionRequest } from '../openai-types.js';
import type { MapContext, ProviderAdapter, ProviderConfig, UpstreamRequest } from '../types.js';
import { mapAnthropicError } from './errors.js';
import { buildMessagesBody, DEFAULT_ANTHROPIC_VERSION } from './request.js';
import { parseMessage } from './response.js';
import { parseAnthropicStream } from './stream.js';

function headers(config: ProviderConfig): Record<string, string> {
  return {
    'x-api-key': config.apiKey,
    'anthropic-version': config.anthropicVersion ?? DEFAULT_ANTHROPIC_VERSION,
  };
}

export const anthropicAdapter: ProviderAdapter = {
  id: 'anthropic',

  buildChatRequest(request: ChatCompletionRequest, stream: boolean, ctx: MapContext): UpstreamRequest {
    const body = buildMessagesBody(request, stream, ctx);
    return {
      method: 'POST',
      url: endpoint(ctx.config.baseUrl, '/messages'),
      headers: {
        ...headers(ctx.config),
        'content-type': 'application/json',
        accept: stream ? 'text/event-stream' : 'application/json',
      },
      body: JSON.stringify(body),
    };
  },

  parseChatResponse: parseMessage,

  parseStream: parseAnthropicStream,

  mapError: mapAnthropicError,

  /** Listing one model costs no tokens and fails with 401 on a bad key. */
  probeRequest(config: ProviderConfig): UpstreamRequest {
    return { method: 'GET', url: endpoint(config.baseUrl, '/models?limit=1'), headers: headers(config) };
  },
};
