/**
 * Gemini `streamGenerateContent?alt=sse` body → stream parts (providers.md §3 "Stream";
 * https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent).
 *
 * Frames are `data: <GenerateContentResponse>` only (no event names, no `[DONE]`: EOF ends the stream).
 * - each chunk carries only the new parts: text parts → `text`; a `functionCall` part arrives whole → one
 *   `tool_call` with its full arguments (no `tool_args` follow), indexed by its ordinal in the candidate;
 * - `usageMetadata` is cumulative and may come on every chunk → `usage` each time (the consumer keeps the last);
 * - the last chunk of a candidate carries `finishReason` → `finish` (STOP with calls → `tool_calls`);
 * - a prompt blocked outright → no candidates, `promptFeedback.blockReason` → `finish` content_filter;
 * - a failing stream ends with a pretty-printed `{"error":…}` body after the last frame (not SSE): `readSse`
 *   leaves it in the trailer; if no candidate finished, it becomes an `error` part. No finish and no error
 *   body → the stream just ends (the consumer treats a missing finish as a broken stream).
 */
import { readSse, type SseTrailer } from '../wire/sse.js';
import type { MapContext, StreamPart } from '../types.js';
import { mapGeminiError, streamTrailerError } from './errors.js';
import { mapFinishReason } from './finish-reasons.js';
import type { GeminiGenerateContentResponse } from './native-types.js';
import { mapUsage, toolCallState, toToolCall } from './response.js';

interface CandidateState {
  /** Tool calls seen so far: the next call's ordinal. */
  toolCalls: number;
}

export async function* parseGeminiStream(
  body: AsyncIterable<Uint8Array>,
  ctx: MapContext,
): AsyncGenerator<StreamPart> {
  const trailer: SseTrailer = { text: '' };
  const candidates = new Map<number, CandidateState>();
  let finished = false;

  for await (const event of readSse(body, trailer)) {
    let chunk: GeminiGenerateContentResponse & { error?: unknown };
    try {
      chunk = JSON.parse(event.data) as GeminiGenerateContentResponse & { error?: unknown };
    } catch {
      yield {
        type: 'error',
        failure: { kind: 'retryable', status: 0, message: 'Gemini sent a stream frame that is not JSON.' },
      };
      return;
    }
    if (chunk.error !== undefined) {
      yield { type: 'error', failure: mapGeminiError(errorStatus(chunk.error), event.data, {}) };
      return;
    }

    const list = chunk.candidates ?? [];
    const finishes: StreamPart[] = [];
    for (const [position, candidate] of list.entries()) {
      const index = candidate.index ?? position;
      let state = candidates.get(index);
      if (!state) {
        state = { toolCalls: 0 };
        candidates.set(index, state);
      }
      for (const part of candidate.content?.parts ?? []) {
        if (part.functionCall) {
          const call = toToolCall(part.functionCall);
          const callState = toolCallState(part.thoughtSignature, ctx);
          yield {
            type: 'tool_call',
            choice: index,
            index: state.toolCalls,
            id: call.id,
            name: call.function.name,
            arguments: call.function.arguments,
            ...(callState ? { state: callState } : {}),
          };
          state.toolCalls += 1;
        } else if (typeof part.text === 'string' && part.thought !== true && part.text.length > 0) {
          yield { type: 'text', choice: index, text: part.text };
        }
      }
      if (candidate.finishReason) {
        const reason = mapFinishReason(candidate.finishReason, state.toolCalls > 0);
        finishes.push({ type: 'finish', choice: index, reason });
      }
    }
    // The final usage rides on the same chunk as finishReason: report it before the finish.
    if (chunk.usageMetadata) {
      yield { type: 'usage', usage: mapUsage(chunk.usageMetadata) };
    }
    if (finishes.length > 0) {
      finished = true;
      yield* finishes;
    }
    if (list.length === 0 && chunk.promptFeedback?.blockReason) {
      finished = true;
      yield { type: 'finish', choice: 0, reason: 'content_filter' };
    }
  }

  if (!finished) {
    const error = streamTrailerError(trailer.text);
    if (error) {
      yield { type: 'error', failure: mapGeminiError(error.status, trailer.text, {}) };
    }
  }
}

function errorStatus(error: unknown): number {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : 0;
}
