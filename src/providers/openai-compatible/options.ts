import type { ProviderId } from '../../common/provider-ids.js';

/**
 * What sets one OpenAI-compatible provider apart from OpenAI. The shared base (request.ts, response.ts,
 * stream.ts, errors.ts) branches on these options only, never on a provider's name.
 */
export interface OpenAiCompatibleOptions {
  id: ProviderId;
  /**
   * Request fields the provider answers with a 400, or that no compatible provider serves. Sending one with a
   * value other than its no-op default (see `NO_OP_VALUES`) is refused with `UnsupportedParameter` naming it;
   * its no-op default is left out of the upstream request.
   */
  unsupported?: readonly string[];
  /** Fields without effect on the answer that the provider does not know: left out silently. */
  strip?: readonly string[];
  /**
   * Fields the provider accepts only with some values (e.g. Groq `service_tier`: auto|flex): any other value
   * except the no-op default is refused.
   */
  allowedValues?: Readonly<Record<string, readonly unknown[]>>;
  /** `n` > 1 served (several choices); otherwise `n` > 1 is refused and `n: 1` left out. */
  multipleChoices: boolean;
  /** `messages[].name` accepted (Groq answers 400 when it is present). */
  messageNames: boolean;
  /** `developer` role understood; otherwise sent as `system`, its older twin. */
  developerRole: boolean;
  /**
   * Only OpenAI knows assistant `refusal` fields and parts; elsewhere a replayed refusal is sent as the
   * assistant's text so the conversation keeps it.
   */
  assistantRefusal: boolean;
  /**
   * `safety_identifier` (OpenAI's successor of `user`) understood; otherwise it is sent as `user`, which the
   * compatible providers accept for the same abuse-monitoring purpose.
   */
  safetyIdentifier: boolean;
  /** Content part types accepted in user messages; others are refused naming the part. Absent = all. */
  contentParts?: readonly string[];
  /**
   * What to send to get token usage in a stream: `stream_options` (OpenAI, Groq), or nothing when the
   * provider always reports it (Cerebras: usage on the final chunk).
   */
  streamOptions?: Readonly<Record<string, unknown>>;
  /** Statuses the provider uses for a passing condition, besides 408/409/429/5xx (Groq 498 capacity_exceeded). */
  retryableStatuses?: readonly number[];
}

/**
 * Values of an unsupported field that ask for nothing beyond the default behaviour: leaving them out changes
 * nothing, so they are dropped instead of refused (an SDK that always sends `logprobs: false` still works).
 */
export const NO_OP_VALUES: Readonly<Record<string, (value: unknown) => boolean>> = {
  frequency_penalty: (v) => v === 0,
  presence_penalty: (v) => v === 0,
  logit_bias: (v) => typeof v === 'object' && v !== null && Object.keys(v).length === 0,
  logprobs: (v) => v === false,
  top_logprobs: (v) => v === 0,
  parallel_tool_calls: (v) => v === true,
  service_tier: (v) => v === 'auto' || v === 'default',
  modalities: (v) => Array.isArray(v) && v.length === 1 && v[0] === 'text',
};

/** OpenAI features no compatible provider serves (audio out, predicted outputs, web search, moderation, legacy functions). */
export const OPENAI_ONLY_FEATURES = [
  'audio',
  'modalities',
  'prediction',
  'web_search_options',
  'moderation',
  'functions',
  'function_call',
] as const;

/** OpenAI-platform bookkeeping (stored completions, prompt-cache routing) that changes nothing in the answer. */
export const OPENAI_ONLY_BOOKKEEPING = [
  'store',
  'metadata',
  'prompt_cache_key',
  'prompt_cache_retention',
  'prompt_cache_options',
] as const;
