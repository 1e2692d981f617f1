import { FakeProvider } from './base.js';
import { OpenAiCompatibleProtocol, presentField } from './openai-compatible.js';

const UNSUPPORTED = [
  'frequency_penalty',
  'presence_penalty',
  'logit_bias',
  'parallel_tool_calls',
  'service_tier',
];

/**
 * Fake Cerebras (providers.md §4): `/v1`, FLAT error bodies (no `error` envelope), rate-limit headers
 * `x-ratelimit-*-{requests-day,tokens-minute}` with resets in float seconds, usage and `time_info` on the final
 * stream chunk whatever the client asked, 400 on the OpenAI fields it does not support and on n > 1.
 */
export function createCerebrasFake(options: { apiKey?: string } = {}): FakeProvider {
  const protocol = new OpenAiCompatibleProtocol({
    name: 'cerebras',
    pathPrefix: '/v1',
    errorEnvelope: false,
    errors: {
      401: {
        message: 'Wrong API Key',
        type: 'invalid_request_error',
        param: 'api_key',
        code: 'wrong_api_key',
      },
      402: { message: 'Payment required.', type: 'payment_required', param: null, code: 'payment_required' },
      404: {
        message: 'Model does not exist or you do not have access to it.',
        type: 'not_found_error',
        param: 'model',
        code: 'model_not_found',
      },
      429: {
        message: 'Requests per minute limit exceeded - too many requests sent.',
        type: 'too_many_requests_error',
        param: 'quota',
        code: 'request_quota_exceeded',
      },
      500: { message: 'Internal server error.', type: 'internal_server_error', param: null, code: null },
    },
    rateLimitHeaders: (exhausted) => ({
      'x-ratelimit-limit-requests-day': '14400',
      'x-ratelimit-remaining-requests-day': exhausted ? '0' : '14399',
      'x-ratelimit-reset-requests-day': '33011.38',
      'x-ratelimit-limit-tokens-minute': '60000',
      'x-ratelimit-remaining-tokens-minute': exhausted ? '0' : '59800',
      'x-ratelimit-reset-tokens-minute': '11.38',
    }),
    models: ['gpt-oss-120b', 'qwen-3.8-27b'],
    modelEntry: (id) => ({ id, object: 'model', created: 0, owned_by: 'Cerebras' }),
    reject: (body) => {
      const field = presentField(body, UNSUPPORTED);
      if (field) {
        return {
          message: `Unsupported parameter: '${field}' is not supported by this model.`,
          type: 'invalid_request_error',
          param: field,
          code: 'wrong_api_format',
        };
      }
      if (body.n !== undefined && body.n !== null && body.n !== 1) {
        return {
          message: 'n must be 1.',
          type: 'invalid_request_error',
          param: 'n',
          code: 'wrong_api_format',
        };
      }
      return undefined;
    },
    streamUsage: 'final_chunk',
    completionExtras: () => timeInfo(),
    finalChunkExtras: () => timeInfo(),
  });
  return new FakeProvider(protocol, options);
}

/** Cerebras' own timing block: an extra the gateway must not pass on. */
function timeInfo(): Record<string, unknown> {
  const now = Date.now() / 1000;
  return {
    time_info: {
      queue_time: 0.0002,
      prompt_time: 0.001,
      completion_time: 0.004,
      total_time: 0.006,
      created: now,
    },
  };
}

/** The base URL the gateway is configured with: origin + `/v1`. */
export function cerebrasBaseUrl(fake: FakeProvider): string {
  return `${fake.origin}/v1`;
}
