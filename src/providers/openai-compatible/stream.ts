import { readSse } from '../wire/sse.js';
import type { StreamPart } from '../types.js';
import { errorObject, mapStreamError } from './errors.js';
import type { OpenAiCompatibleOptions } from './options.js';
import { argumentsText, isRecord, mapFinishReason, mapUsage } from './response.js';

/**
 * `chat.completion.chunk` frames → stream parts (§0 streaming contract).
 *
 * | frame                                                        | parts |
 * |--------------------------------------------------------------|-------|
 * | `choices[i].delta.content` / `.refusal`                      | `text` / `refusal` with `choice: i` |
 * | `delta.tool_calls[k]` with an `id` first seen                | `tool_call` (ordinal index, id, name, initial arguments) |
 * | `delta.tool_calls[k]` without a new id                       | `tool_args` |
 * | `choices[i].finish_reason`                                   | `finish` |
 * | `usage` (OpenAI include_usage chunk, Cerebras final chunk) or Groq `x_groq.usage` | `usage` |
 * | `{"error":{…}}` / flat Cerebras error / `event: error`       | `error`, then stop |
 * | `[DONE]`                                                     | end |
 *
 * Provider extras (`delta.reasoning`, `time_info`, `obfuscation`) are not read. A body that breaks before the
 * end just ends: the consumer sees no `finish` and treats the stream as broken.
 */
export async function* parseStream(
  options: OpenAiCompatibleOptions,
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<StreamPart> {
  const state = new StreamState();
  const events = readSse(body);
  try {
    for (;;) {
      let next: IteratorResult<{ event?: string; data: string }>;
      try {
        next = await events.next();
      } catch {
        // The connection broke (or the consumer aborted it): end without a finish, as the contract asks.
        return;
      }
      if (next.done) {
        return;
      }
      const data = next.value.data.trim();
      if (data === '[DONE]') {
        return;
      }
      if (data === '') {
        continue;
      }
      let chunk: unknown;
      try {
        chunk = JSON.parse(data);
      } catch {
        yield {
          type: 'error',
          failure: {
            kind: 'retryable',
            status: 0,
            message: 'The provider sent a stream frame that is not JSON.',
          },
        };
        return;
      }
      const error = frameError(next.value.event, chunk);
      if (error) {
        yield { type: 'error', failure: mapStreamError(options, error) };
        return;
      }
      if (isRecord(chunk)) {
        yield* state.parts(chunk);
      }
    }
  } finally {
    // Stops reading the body when the stream ends early ([DONE], an error, or the consumer leaving).
    await events.return(undefined).catch(() => undefined);
  }
}

function frameError(eventName: string | undefined, chunk: unknown): ReturnType<typeof errorObject> {
  if (!isRecord(chunk)) {
    return undefined;
  }
  if (eventName === 'error' || 'error' in chunk || !('choices' in chunk)) {
    // A chunk without choices is an error only if it looks like one (Cerebras writes flat error bodies);
    // a usage-only chunk still has `choices: []`.
    return errorObject(chunk) ?? (eventName === 'error' ? { message: JSON.stringify(chunk) } : undefined);
  }
  return undefined;
}

/** Per-stream state: which provider tool-call slots have been announced, and under which ordinal. */
class StreamState {
  private readonly toolSlots = new Map<number, Map<number, number>>();

  *parts(chunk: Record<string, unknown>): Generator<StreamPart> {
    const choices = Array.isArray(chunk.choices) ? chunk.choices.filter(isRecord) : [];
    for (const [position, choice] of choices.entries()) {
      const index = typeof choice.index === 'number' ? choice.index : position;
      const delta = isRecord(choice.delta) ? choice.delta : {};
      if (typeof delta.content === 'string' && delta.content !== '') {
        yield { type: 'text', choice: index, text: delta.content };
      }
      if (typeof delta.refusal === 'string' && delta.refusal !== '') {
        yield { type: 'refusal', choice: index, text: delta.refusal };
      }
      if (Array.isArray(delta.tool_calls)) {
        for (const [slot, call] of delta.tool_calls.filter(isRecord).entries()) {
          yield* this.toolCall(index, slot, call);
        }
      }
      if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
        const calledTools = (this.toolSlots.get(index)?.size ?? 0) > 0;
        yield { type: 'finish', choice: index, reason: mapFinishReason(choice.finish_reason, calledTools) };
      }
    }
    // Groq reports stream usage in `x_groq.usage` on the final chunk; a top-level `usage` wins when both exist.
    const groq = isRecord(chunk.x_groq) ? chunk.x_groq : {};
    const usage = mapUsage(chunk.usage ?? groq.usage);
    if (usage) {
      yield { type: 'usage', usage };
    }
  }

  private *toolCall(choice: number, position: number, call: Record<string, unknown>): Generator<StreamPart> {
    const slots = this.toolSlots.get(choice) ?? new Map<number, number>();
    this.toolSlots.set(choice, slots);
    const slot = typeof call.index === 'number' ? call.index : position;
    const fn = isRecord(call.function) ? call.function : {};
    const args = argumentsText(fn.arguments);
    const ordinal = slots.get(slot);
    if (ordinal === undefined) {
      // The first fragment of a call carries its id and name (OpenAI, Cerebras); Groq sends the whole call at once.
      const index = slots.size;
      slots.set(slot, index);
      yield {
        type: 'tool_call',
        choice,
        index,
        id: typeof call.id === 'string' ? call.id : '',
        name: typeof fn.name === 'string' ? fn.name : '',
        ...(args !== '' && { arguments: args }),
      };
      return;
    }
    if (args !== '') {
      yield { type: 'tool_args', choice, index: ordinal, arguments: args };
    }
  }
}
