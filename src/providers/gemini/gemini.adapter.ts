import { endpoint } from '../wire/http.js';
/**
 * The Google Gemini adapter: Generative Language API, API-key flavour (providers.md §3, §6). Pure mapping: the
 * gateway does the HTTP. Request mapping in request.ts (+ messages.ts), response in response.ts
 * (+ finish-reasons.ts), stream in stream.ts, errors in errors.ts.
 */
import type { ChatCompletionRequest } from '../openai-types.js';
import type { MapContext, ProviderAdapter, ProviderConfig, UpstreamRequest } from '../types.js';
import { mapGeminiError } from './errors.js';
import { buildGenerateContentBody } from './request.js';
import { parseGenerateContentResponse } from './response.js';
import { parseGeminiStream } from './stream.js';

/** The key goes in a header, never `?key=`: URLs end up in logs and traces. */
function authHeaders(config: ProviderConfig): Record<string, string> {
  return { 'x-goog-api-key': config.apiKey };
}

export const geminiAdapter: ProviderAdapter = {
  id: 'gemini',

  buildChatRequest(request: ChatCompletionRequest, stream: boolean, ctx: MapContext): UpstreamRequest {
    const body = buildGenerateContentBody(request, ctx);
    // The model lives in the URL (the body has none); a catalog may store it as `models/<id>`.
    const model = encodeURIComponent(ctx.deployment.providerModel.replace(/^models\//, ''));
    // Without alt=sse the stream is one long JSON array; SSE frames can be parsed as they come.
    const path = stream
      ? `/models/${model}:streamGenerateContent?alt=sse`
      : `/models/${model}:generateContent`;
    return {
      method: 'POST',
      url: endpoint(ctx.config.baseUrl, path),
      headers: {
        ...authHeaders(ctx.config),
        'content-type': 'application/json',
        accept: stream ? 'text/event-stream' : 'application/json',
      },
      body: JSON.stringify(body),
    };
  },

  parseChatResponse: parseGenerateContentResponse,

  parseStream: parseGeminiStream,

  mapError: mapGeminiError,

  /** Listing one model costs no tokens; a bad key answers 400 API_KEY_INVALID, a missing one 403. */
  probeRequest(config: ProviderConfig): UpstreamRequest {
    return {
      method: 'GET',
      url: endpoint(config.baseUrl, '/models?pageSize=1'),
      headers: authHeaders(config),
    };
  },
};
