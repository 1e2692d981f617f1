/**
 * Anthropic streaming events → StreamPart (providers.md §2 "Stream";
 * https://docs.anthropic.com/en/docs/build-with-claude/streaming).
 *
 * | event                                   | part                                                        |
 * |-----------------------------------------|-------------------------------------------------------------|
 * | message_start.message.usage             | usage                                                       |
 * | content_block_start text / text_delta   | text                                                        |
 * | content_block_start tool_use            | tool_call (index = call ordinal, state = thinking so far)   |
 * | input_json_delta                        | tool_args (empty fragments skipped)                         |
 * | thinking / redacted_thinking blocks     | kept (rebuilt from thinking_delta + signature_delta)        |
 * | message_delta                           | usage (fields overwrite: the totals are cumulative)         |
 * | message_stop                            | finish (stop_reason from message_delta)                     |
 * | error                                   | error, then stop                                            |
 * | ping, citations_delta, unknown          | nothing                                                     |
 */
import { readSse } from '../wire/sse.js';
import type { MapContext, StreamPart } from '../types.js';
import { failureFromStreamError } from './errors.js';
import type { AnthropicUsage } from './native-types.js';
import { isThinkingBlock, mapStopReason, mapUsage, thinkingState } from './response.js';

type OpenBlock =
  | { kind: 'text' }
  | { kind: 'tool'; ordinal: number; sentArgs: boolean }
  | { kind: 'thinking'; block: Record<string, unknown> }
  | { kind: 'other' };

interface StreamEvent {
  type?: string;
  index?: number;
  message?: { usage?: AnthropicUsage };
  content_block?: { type: string; id?: string; name?: string; input?: unknown; [key: string]: unknown };
  delta?: {
    type?: string;
    text?: string;
    partial_json?: string;
    thinking?: string;
    signature?: string;
    stop_reason?: string | null;
  };
  usage?: AnthropicUsage;
}

/** Overwrites the running usage with every field the event reports: Anthropic sends totals, not increments. */
function mergeUsage(current: AnthropicUsage, update: AnthropicUsage): AnthropicUsage {
  const merged: AnthropicUsage = { ...current };
  for (const [key, value] of Object.entries(update) as Array<[keyof AnthropicUsage, unknown]>) {
    if (value !== null && value !== undefined) {
      (merged as Record<string, unknown>)[key] = value;
    }
  }
  return merged;
}

export async function* parseAnthropicStream(
  body: AsyncIterable<Uint8Array>,
  ctx: MapContext,
): AsyncGenerator<StreamPart> {
  const blocks = new Map<number, OpenBlock>();
  const thinking: Array<Record<string, unknown>> = [];
  let usage: AnthropicUsage = {};
  let stopReason: string | null | undefined;
  let toolCount = 0;

  for await (const sse of readSse(body)) {
    let event: StreamEvent;
    try {
      event = JSON.parse(sse.data) as StreamEvent;
    } catch {
      continue; // Not JSON: not an event we can act on.
    }
    const type = event.type ?? sse.event;
    switch (type) {
      case 'message_start':
        if (event.message?.usage) {
          usage = mergeUsage(usage, event.message.usage);
          yield { type: 'usage', usage: mapUsage(usage) };
        }
        break;

      case 'content_block_start': {
        const block = event.content_block;
        const index = event.index ?? 0;
        if (!block) {
          break;
        }
        if (block.type === 'text') {
          blocks.set(index, { kind: 'text' });
          if (typeof block.text === 'string' && block.text.length > 0) {
            yield { type: 'text', text: block.text };
          }
        } else if (block.type === 'tool_use') {
          const ordinal = toolCount++;
          const initial =
            block.input && typeof block.input === 'object' && Object.keys(block.input).length > 0
              ? JSON.stringify(block.input)
              : undefined;
          blocks.set(index, { kind: 'tool', ordinal, sentArgs: initial !== undefined });
          const state = thinkingState(thinking, ctx);
          yield {
            type: 'tool_call',
            index: ordinal,
            id: block.id ?? '',
            name: block.name ?? '',
            ...(initial !== undefined ? { arguments: initial } : {}),
            ...(state ? { state } : {}),
          };
        } else if (isThinkingBlock(block)) {
          const copy: Record<string, unknown> = { ...block };
          thinking.push(copy);
          blocks.set(index, { kind: 'thinking', block: copy });
        } else {
          blocks.set(index, { kind: 'other' });
        }
        break;
      }

      case 'content_block_delta': {
        const open = blocks.get(event.index ?? 0);
        const delta = event.delta;
        if (!open || !delta) {
          break;
        }
        if (delta.type === 'text_delta' && open.kind === 'text' && delta.text) {
          yield { type: 'text', text: delta.text };
        } else if (delta.type === 'input_json_delta' && open.kind === 'tool' && delta.partial_json) {
          open.sentArgs = true;
          yield { type: 'tool_args', index: open.ordinal, arguments: delta.partial_json };
        } else if (delta.type === 'thinking_delta' && open.kind === 'thinking') {
          open.block.thinking = String(open.block.thinking ?? '') + (delta.thinking ?? '');
        } else if (delta.type === 'signature_delta' && open.kind === 'thinking') {
          open.block.signature = String(open.block.signature ?? '') + (delta.signature ?? '');
        }
        break;
      }

      case 'content_block_stop': {
        const open = blocks.get(event.index ?? 0);
        // A tool without parameters streams no JSON: OpenAI clients expect a parsable arguments string.
        if (open?.kind === 'tool' && !open.sentArgs) {
          open.sentArgs = true;
          yield { type: 'tool_args', index: open.ordinal, arguments: '{}' };
        }
        break;
      }

      case 'message_delta':
        if (event.delta?.stop_reason !== undefined) {
          stopReason = event.delta.stop_reason;
        }
        if (event.usage) {
          usage = mergeUsage(usage, event.usage);
          yield { type: 'usage', usage: mapUsage(usage) };
        }
        break;

      case 'message_stop':
        yield { type: 'finish', reason: mapStopReason(stopReason) };
        return;

      case 'error':
        yield { type: 'error', failure: failureFromStreamError(event) };
        return;

      default:
        // ping and event types added later carry nothing to relay.
        break;
    }
  }
}
