/**
 * Anthropic Messages response → OpenAI terms (providers.md §2 "Response", "stop_reason", "Usage";
 * https://docs.anthropic.com/en/api/messages#response).
 */
import { ErrorCode, GatewayError } from '../../common/errors.js';
import type { FinishReason, ToolCall, Usage } from '../openai-types.js';
import type { MapContext, NormalizedResponse, ToolCallState } from '../types.js';
import type { AnthropicMessage, AnthropicResponseBlock, AnthropicUsage } from './native-types.js';

/** stop_reason → finish_reason (https://docs.anthropic.com/en/api/handling-stop-reasons). */
const FINISH_REASONS: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

export function mapStopReason(reason: string | null | undefined): FinishReason {
  return (reason ? FINISH_REASONS[reason] : undefined) ?? 'stop';
}

/**
 * Anthropic's `input_tokens` excludes cached input: the OpenAI prompt count includes both cache writes and
 * cache reads. `output_tokens` already includes thinking tokens.
 */
export function mapUsage(usage: AnthropicUsage): Usage {
  const input = usage.input_tokens ?? 0;
  const cacheWrite = usage.cache_creation_input_tokens ?? 0;
  const cacheRead = usage.cache_read_input_tokens ?? 0;
  const prompt = input + cacheWrite + cacheRead;
  const completion = usage.output_tokens ?? 0;
  const mapped: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cacheRead },
  };
  const thinking = usage.output_tokens_details?.thinking_tokens;
  if (thinking != null) {
    mapped.completion_tokens_details = { reasoning_tokens: thinking };
  }
  return mapped;
}

export function isThinkingBlock(block: { type: string }): boolean {
  return block.type === 'thinking' || block.type === 'redacted_thinking';
}

/** State to save for a tool call: the thinking blocks that preceded it, for replay to the same model only. */
export function thinkingState(blocks: unknown[], ctx: MapContext): ToolCallState | undefined {
  if (blocks.length === 0) {
    return undefined;
  }
  return { provider: 'anthropic', providerModel: ctx.deployment.providerModel, thinkingBlocks: [...blocks] };
}

function isMessage(body: unknown): body is AnthropicMessage {
  return (
    typeof body === 'object' &&
    body !== null &&
    Array.isArray((body as { content?: unknown }).content) &&
    typeof (body as { usage?: unknown }).usage === 'object'
  );
}

export function parseMessage(body: unknown, ctx: MapContext): NormalizedResponse {
  if (!isMessage(body)) {
    throw new GatewayError(ErrorCode.UpstreamError, 'Anthropic returned a response that is not a message.');
  }
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  const thinking: unknown[] = [];
  const toolState: Array<[string, ToolCallState]> = [];

  for (const block of body.content as AnthropicResponseBlock[]) {
    if (isThinkingBlock(block)) {
      thinking.push(block);
    } else if (block.type === 'text') {
      texts.push((block as { text: string }).text);
    } else if (block.type === 'tool_use') {
      const use = block as { id: string; name: string; input?: unknown };
      toolCalls.push({
        id: use.id,
        type: 'function',
        function: { name: use.name, arguments: JSON.stringify(use.input ?? {}) },
      });
      const state = thinkingState(thinking, ctx);
      if (state) {
        toolState.push([use.id, state]);
      }
    }
    // Server-tool blocks (web search, …) and citations have no Chat Completions equivalent.
  }

  return {
    choices: [
      {
        index: 0,
        content: texts.length > 0 ? texts.join('') : null,
        refusal: null,
        toolCalls,
        finishReason: mapStopReason(body.stop_reason),
      },
    ],
    usage: mapUsage(body.usage),
    toolState,
  };
}
