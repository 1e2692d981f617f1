import { FakeProvider } from './base.js';
import { OpenAiCompatibleProtocol, presentField } from './openai-compatible.js';

/**
 * Fake OpenAI (providers.md §0, §1): `/v1`, error envelope, `x-ratelimit-*-{requests,tokens}` with durations,
 * usage chunk (`choices: []`) only when `stream_options.include_usage` was asked. Like the reasoning models of
 * the catalog it refuses `max_tokens` (use `max_completion_tokens`).
 */
export function createOpenAiFake(options: { apiKey?: string } = {}): FakeProvider {
  const protocol = new OpenAiCompatibleProtocol({
    name: 'openai',
    pathPrefix: '/v1',
    errorEnvelope: true,
    errors: {
      401: {
        message:
          'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
        type: 'invalid_request_error',
        code: 'invalid_api_key',
      },
      429: {
        message:
          'Rate limit reached for requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 1s.',
        type: 'requests',
        code: 'rate_limit_exceeded',
      },
    },
    rateLimitHeaders: (exhausted) => ({
      'x-ratelimit-limit-requests': '500',
      'x-ratelimit-remaining-requests': exhausted ? '0' : '499',
      'x-ratelimit-reset-requests': exhausted ? '1s' : '120ms',
      'x-ratelimit-limit-tokens': '30000',
      'x-ratelimit-remaining-tokens': exhausted ? '0' : '29950',
      'x-ratelimit-reset-tokens': exhausted ? '6m0s' : '12ms',
    }),
    extraHeaders: { 'openai-version': '2020-10-01', 'openai-processing-ms': '42' },
    models: ['gpt-6.2-astra', 'gpt-6.2-sol', 'gpt-6.1-terra', 'gpt-6-luna'],
    modelEntry: (id) => ({ id, object: 'model', created: 1_790_000_000, owned_by: 'openai' }),
    reject: (body) =>
      presentField(body, ['max_tokens'])
        ? {
            message:
              "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            type: 'invalid_request_error',
            param: 'max_tokens',
            code: 'unsupported_parameter',
          }
        : undefined,
    streamUsage: 'include_usage',
    messageExtras: { refusal: null, annotations: [] },
    completionExtras: () => ({ service_tier: 'default' }),
  });
  return new FakeProvider(protocol, options);
}

/** The base URL the gateway is configured with: origin + `/v1`. */
export function openAiBaseUrl(fake: FakeProvider): string {
  return `${fake.origin}/v1`;
}
