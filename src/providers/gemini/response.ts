/**
 * Gemini `GenerateContentResponse` → normalized OpenAI answer (providers.md §3 "Response" and "Usage";
 * https://ai.google.dev/api/generate-content#generatecontentresponse).
 *
 * | Gemini                                       | OpenAI                                                   |
 * |----------------------------------------------|----------------------------------------------------------|
 * | candidates[].content.parts[].text (thought≠true) | choices[].message.content (joined; null when none)   |
 * | parts[].functionCall {id?,name,args}         | tool_calls[] {id ?? call_<24>, name, JSON args}          |
 * | parts[].thoughtSignature on a functionCall   | ToolCallState saved by tool_call id                      |
 * | candidates[].finishReason                    | finish_reason (finish-reasons.ts)                        |
 * | no candidates + promptFeedback.blockReason   | one choice, content null, `content_filter`               |
 * | promptTokenCount + toolUsePromptTokenCount   | prompt_tokens                                            |
 * | candidatesTokenCount + thoughtsTokenCount    | completion_tokens (thinking is billed as output)         |
 * | totalTokenCount                              | total_tokens                                             |
 * | cachedContentTokenCount / thoughtsTokenCount | cached_tokens / reasoning_tokens                         |
 */
import { randomInt } from 'node:crypto';
import type { ToolCall, Usage } from '../openai-types.js';
import type { MapContext, NormalizedChoice, NormalizedResponse, ToolCallState } from '../types.js';
import { mapFinishReason } from './finish-reasons.js';
import type {
  GeminiCandidate,
  GeminiFunctionCall,
  GeminiGenerateContentResponse,
  GeminiUsageMetadata,
} from './native-types.js';

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Gemini often omits `functionCall.id`; OpenAI clients need one to answer the call. */
export function newToolCallId(): string {
  let id = 'call_';
  for (let i = 0; i < 24; i += 1) {
    id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  }
  return id;
}

export function toToolCall(call: GeminiFunctionCall): ToolCall {
  return {
    id: call.id || newToolCallId(),
    type: 'function',
    function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) },
  };
}

export function toolCallState(signature: string | undefined, ctx: MapContext): ToolCallState | undefined {
  return signature
    ? { provider: 'gemini', providerModel: ctx.deployment.providerModel, thoughtSignature: signature }
    : undefined;
}

export function mapUsage(usage: GeminiUsageMetadata): Usage {
  const prompt = (usage.promptTokenCount ?? 0) + (usage.toolUsePromptTokenCount ?? 0);
  const reasoning = usage.thoughtsTokenCount ?? 0;
  const completion = (usage.candidatesTokenCount ?? 0) + reasoning;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: usage.totalTokenCount ?? prompt + completion,
    prompt_tokens_details: { cached_tokens: usage.cachedContentTokenCount ?? 0 },
    completion_tokens_details: { reasoning_tokens: reasoning },
  };
}

export function parseGenerateContentResponse(body: unknown, ctx: MapContext): NormalizedResponse {
  const response = (body ?? {}) as GeminiGenerateContentResponse;
  const toolState: Array<[string, ToolCallState]> = [];
  const candidates = response.candidates ?? [];
  const choices: NormalizedChoice[] = candidates.map((candidate, position) =>
    mapCandidate(candidate, position, ctx, toolState),
  );
  if (choices.length === 0) {
    // The prompt itself was blocked (promptFeedback.blockReason): there is no candidate to show.
    choices.push({
      index: 0,
      content: null,
      refusal: null,
      toolCalls: [],
      finishReason: response.promptFeedback?.blockReason ? 'content_filter' : 'stop',
    });
  }
  choices.sort((a, b) => a.index - b.index);
  return {
    choices,
    ...(response.usageMetadata ? { usage: mapUsage(response.usageMetadata) } : {}),
    toolState,
  };
}

function mapCandidate(
  candidate: GeminiCandidate,
  position: number,
  ctx: MapContext,
  toolState: Array<[string, ToolCallState]>,
): NormalizedChoice {
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  for (const part of candidate.content?.parts ?? []) {
    if (part.functionCall) {
      const call = toToolCall(part.functionCall);
      toolCalls.push(call);
      // In parallel calls only the first part carries a signature: the others have no state to save.
      const state = toolCallState(part.thoughtSignature, ctx);
      if (state) {
        toolState.push([call.id, state]);
      }
    } else if (typeof part.text === 'string' && part.thought !== true) {
      texts.push(part.text);
    }
  }
  return {
    index: candidate.index ?? position,
    content: texts.length > 0 ? texts.join('') : null,
    refusal: null,
    toolCalls,
    finishReason: mapFinishReason(
      candidate.finishReason ?? 'FINISH_REASON_UNSPECIFIED',
      toolCalls.length > 0,
    ),
  };
}
