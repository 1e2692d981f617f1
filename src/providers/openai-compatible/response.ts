import { ErrorCode, GatewayError } from '../../common/errors.js';
import type { FinishReason, ToolCall, Usage } from '../openai-types.js';
import type { NormalizedChoice, NormalizedResponse } from '../types.js';

/**
 * `chat.completion` → normalized answer. Only the OpenAI fields are read, so provider extras (Cerebras
 * `time_info`, `message.reasoning`; Groq `x_groq`, `usage.queue_time`) never reach the client.
 */
export function parseChatResponse(body: unknown): NormalizedResponse {
  if (!isRecord(body) || !Array.isArray(body.choices)) {
    throw new GatewayError(ErrorCode.UpstreamError, 'The provider answered without choices.');
  }
  const choices = body.choices
    .filter(isRecord)
    .map((choice, position) => parseChoice(choice, position))
    .sort((a, b) => a.index - b.index);
  return { choices, usage: mapUsage(body.usage), toolState: [] };
}

function parseChoice(choice: Record<string, unknown>, position: number): NormalizedChoice {
  const message = isRecord(choice.message) ? choice.message : {};
  const toolCalls = Array.isArray(message.tool_calls)
    ? message.tool_calls.filter(isRecord).map(parseToolCall)
    : [];
  return {
    index: typeof choice.index === 'number' ? choice.index : position,
    content: typeof message.content === 'string' ? message.content : null,
    refusal: typeof message.refusal === 'string' ? message.refusal : null,
    toolCalls,
    finishReason: mapFinishReason(choice.finish_reason, toolCalls.length > 0),
  };
}

function parseToolCall(call: Record<string, unknown>): ToolCall {
  const fn = isRecord(call.function) ? call.function : {};
  return {
    id: typeof call.id === 'string' ? call.id : '',
    type: 'function',
    function: { name: typeof fn.name === 'string' ? fn.name : '', arguments: argumentsText(fn.arguments) },
  };
}

/** Arguments are a JSON string in the OpenAI shape; tolerate a provider that sends the object itself. */
export function argumentsText(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  return value === undefined || value === null ? '' : JSON.stringify(value);
}

const FINISH_REASONS: ReadonlySet<string> = new Set<FinishReason>([
  'stop',
  'length',
  'tool_calls',
  'content_filter',
  'function_call',
]);

/**
 * The family already speaks OpenAI's finish reasons (§0). A missing one (some compatible servers leave it
 * null on the last choice) is `tool_calls` when the answer called tools, else `stop`.
 */
export function mapFinishReason(reason: unknown, calledTools: boolean): FinishReason {
  if (typeof reason === 'string' && FINISH_REASONS.has(reason)) {
    return reason as FinishReason;
  }
  return calledTools ? 'tool_calls' : 'stop';
}

/**
 * Usage in OpenAI terms (§0): prompt incl. cached, completion incl. reasoning — already so in this family.
 * Provider extras (Groq `queue_time`, Cerebras prediction counts) are dropped.
 */
export function mapUsage(raw: unknown): Usage | undefined {
  if (!isRecord(raw)) {
    return undefined;
  }
  const prompt = count(raw.prompt_tokens) ?? 0;
  const completion = count(raw.completion_tokens) ?? 0;
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: count(raw.total_tokens) ?? prompt + completion,
  };
  const promptDetails = isRecord(raw.prompt_tokens_details) ? raw.prompt_tokens_details : {};
  const cached = count(promptDetails.cached_tokens);
  const promptAudio = count(promptDetails.audio_tokens);
  if (cached !== undefined || promptAudio !== undefined) {
    usage.prompt_tokens_details = {
      ...(cached !== undefined && { cached_tokens: cached }),
      ...(promptAudio !== undefined && { audio_tokens: promptAudio }),
    };
  }
  const completionDetails = isRecord(raw.completion_tokens_details) ? raw.completion_tokens_details : {};
  const reasoning = count(completionDetails.reasoning_tokens);
  const completionAudio = count(completionDetails.audio_tokens);
  if (reasoning !== undefined || completionAudio !== undefined) {
    usage.completion_tokens_details = {
      ...(reasoning !== undefined && { reasoning_tokens: reasoning }),
      ...(completionAudio !== undefined && { audio_tokens: completionAudio }),
    };
  }
  return usage;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
