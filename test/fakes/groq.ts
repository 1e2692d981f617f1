import { FakeProvider } from './base.js';
import { isRecord, OpenAiCompatibleProtocol, presentField } from './openai-compatible.js';

/**
 * Fake Groq (providers.md §5): `/openai/v1`, error envelope, `x-ratelimit-*-{requests,tokens}` (requests per
 * day, tokens per minute, resets like `2m59.56s`), `x_groq: {id}` on the first chunk and `x_groq.usage` on the
 * final one, 400 when `logprobs`, `logit_bias`, `top_logprobs` or `messages[].name` is present or n ≠ 1, and 498
 * `capacity_exceeded` for the flex tier.
 */
export function createGroqFake(options: { apiKey?: string } = {}): FakeProvider {
  const protocol = new OpenAiCompatibleProtocol({
    name: 'groq',
    pathPrefix: '/openai/v1',
    errorEnvelope: true,
    errors: {
      401: { message: 'Invalid API Key', type: 'invalid_request_error', code: 'invalid_api_key' },
      429: {
        message:
          'Rate limit reached for model on tokens per minute (TPM): Limit 6000, Used 6000. Please try again in 1s.',
        type: 'tokens',
        code: 'rate_limit_exceeded',
      },
      498: {
        message: 'Flex tier capacity exceeded. This model is currently at capacity; please try again later.',
        type: 'capacity_exceeded',
        code: 'capacity_exceeded',
      },
    },
    rateLimitHeaders: (exhausted) => ({
      'x-ratelimit-limit-requests': '14400',
      'x-ratelimit-remaining-requests': exhausted ? '0' : '14399',
      'x-ratelimit-reset-requests': '2m59.56s',
      'x-ratelimit-limit-tokens': '6000',
      'x-ratelimit-remaining-tokens': exhausted ? '0' : '5800',
      'x-ratelimit-reset-tokens': '7.66s',
    }),
    models: ['openai/gpt-oss-120b', 'qwen/qwen3.8-27b', 'openai/gpt-oss-20b'],
    modelEntry: (id) => ({
      id,
      object: 'model',
      created: 1_754_000_000,
      owned_by: id.split('/')[0] || 'Groq',
      active: true,
      context_window: 131_072,
      public_apps: null,
      max_completion_tokens: 65_536,
    }),
    reject: (body) => {
      const field = presentField(body, ['logprobs', 'logit_bias', 'top_logprobs']);
      if (field) {
        return { message: `'${field}' : not supported`, type: 'invalid_request_error', param: field };
      }
      const messages = Array.isArray(body.messages) ? body.messages : [];
      const named = messages.findIndex((message) => isRecord(message) && message.name !== undefined);
      if (named >= 0) {
        return {
          message: `'messages.${named}' : for 'role:${String((messages[named] as Record<string, unknown>).role)}' the following must be satisfied[('messages.${named}.name' : property 'name' is unsupported)]`,
          type: 'invalid_request_error',
        };
      }
      if (body.n !== undefined && body.n !== null && body.n !== 1) {
        return { message: "'n' : number must be at most 1", type: 'invalid_request_error', param: 'n' };
      }
      return undefined;
    },
    streamUsage: 'x_groq',
    completionExtras: (requestId) => ({ x_groq: { id: requestId }, service_tier: 'on_demand' }),
    firstChunkExtras: (requestId) => ({ x_groq: { id: requestId } }),
  });
  return new FakeProvider(protocol, options);
}

/** The base URL the gateway is configured with: origin + `/openai/v1`. */
export function groqBaseUrl(fake: FakeProvider): string {
  return `${fake.origin}/openai/v1`;
}
