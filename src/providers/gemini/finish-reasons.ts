/**
 * Gemini `finishReason` → OpenAI `finish_reason` (providers.md §3; enum of record:
 * https://ai.google.dev/api/generate-content#FinishReason, js-genai `types.FinishReason`).
 *
 * | Gemini                                                                  | OpenAI           |
 * |-------------------------------------------------------------------------|------------------|
 * | STOP (with functionCall parts in the candidate)                         | `tool_calls`     |
 * | STOP, FINISH_REASON_UNSPECIFIED, OTHER, RECITATION, IMAGE_RECITATION,   | `stop`           |
 * | IMAGE_OTHER, NO_IMAGE, MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL,   |                  |
 * | TOO_MANY_TOOL_CALLS, MISSING_THOUGHT_SIGNATURE, MALFORMED_RESPONSE      |                  |
 * | MAX_TOKENS, CONTINUATION (limit hit, answer unfinished)                 | `length`         |
 * | SAFETY, PROHIBITED_CONTENT, BLOCKLIST, SPII, LANGUAGE, IMAGE_SAFETY,    | `content_filter` |
 * | IMAGE_PROHIBITED_CONTENT                                                |                  |
 * | anything else (reported through `reportUnknownFinishReason`: a counter  | `stop`/`tool_calls` |
 * | and a warning)                                                          |                  |
 */
import type { FinishReason } from '../openai-types.js';
import { reportUnknownFinishReason } from '../signals.js';

const TABLE: Readonly<Record<string, FinishReason>> = {
  STOP: 'stop',
  FINISH_REASON_UNSPECIFIED: 'stop',
  OTHER: 'stop',
  RECITATION: 'stop',
  IMAGE_RECITATION: 'stop',
  IMAGE_OTHER: 'stop',
  NO_IMAGE: 'stop',
  MALFORMED_FUNCTION_CALL: 'stop',
  UNEXPECTED_TOOL_CALL: 'stop',
  TOO_MANY_TOOL_CALLS: 'stop',
  MISSING_THOUGHT_SIGNATURE: 'stop',
  MALFORMED_RESPONSE: 'stop',
  MAX_TOKENS: 'length',
  CONTINUATION: 'length',
  SAFETY: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  BLOCKLIST: 'content_filter',
  SPII: 'content_filter',
  LANGUAGE: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
  IMAGE_PROHIBITED_CONTENT: 'content_filter',
};

export function mapFinishReason(native: string, hasToolCalls: boolean): FinishReason {
  const mapped = TABLE[native];
  if (mapped === undefined) {
    // A value Google added after this table: answered, and reported so it never turns into a silent `stop`.
    reportUnknownFinishReason('gemini', native);
    return hasToolCalls ? 'tool_calls' : 'stop';
  }
  // Gemini says STOP when the turn ends in function calls; OpenAI clients loop on `tool_calls`.
  return mapped === 'stop' && native === 'STOP' && hasToolCalls ? 'tool_calls' : mapped;
}
