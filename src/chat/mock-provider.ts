import { randomBytes } from 'node:crypto';
import type { ChatCompletionRequest } from '../providers/openai-types.js';
import type { NormalizedResponse, StreamPart } from '../providers/types.js';

/**
 * The deterministic provider behind test keys: the same request always gets the same answer, nothing leaves
 * the gateway and nothing is billed. Tools offered and the last message from the user → a tool call to the
 * chosen (or first) tool; JSON output asked for → a small JSON object; otherwise a fixed sentence.
 *
 * The `x-conflux-mock` header simulates what live traffic can meet: `rate_limit` (429), `server_error` (every
 * provider failing: 503), `failover` (served by the fallback model). Live keys ignore it.
 */
export type MockBehaviour = 'normal' | 'rate_limit' | 'server_error' | 'failover';

export const MOCK_BEHAVIOURS: readonly MockBehaviour[] = ['normal', 'rate_limit', 'server_error', 'failover'];

export function mockAnswer(request: ChatCompletionRequest, servedModel: string): NormalizedResponse {
  const toolName = chosenTool(request);
  if (toolName) {
    return {
      choices: [
        {
          index: 0,
          content: null,
          refusal: null,
          toolCalls: [
            { id: mockCallId(request), type: 'function', function: { name: toolName, arguments: '{}' } },
          ],
          finishReason: 'tool_calls',
        },
      ],
      toolState: [],
    };
  }
  return {
    choices: Array.from({ length: request.n ?? 1 }, (_, index) => ({
      index,
      content: mockText(request, servedModel),
      refusal: null,
      toolCalls: [],
      finishReason: 'stop' as const,
    })),
    toolState: [],
  };
}

/** The same answer as a stream: the text word by word, a tool call as a name then its arguments. */
export async function* mockStream(
  request: ChatCompletionRequest,
  servedModel: string,
): AsyncGenerator<StreamPart> {
  const answer = mockAnswer(request, servedModel);
  for (const choice of answer.choices) {
    if (choice.toolCalls.length > 0) {
      const call = choice.toolCalls[0];
      yield { type: 'tool_call', choice: choice.index, index: 0, id: call.id, name: call.function.name };
      yield { type: 'tool_args', choice: choice.index, index: 0, arguments: call.function.arguments };
    } else {
      for (const word of (choice.content ?? '').split(/(?= )/)) {
        yield { type: 'text', choice: choice.index, text: word };
      }
    }
    yield { type: 'finish', choice: choice.index, reason: choice.finishReason };
  }
}

function chosenTool(request: ChatCompletionRequest): string | undefined {
  const tools = request.tools ?? [];
  const last = request.messages[request.messages.length - 1];
  if (tools.length === 0 || request.tool_choice === 'none' || last.role !== 'user') {
    return undefined;
  }
  const choice = request.tool_choice;
  return typeof choice === 'object' ? choice.function.name : tools[0].function.name;
}

function mockText(request: ChatCompletionRequest, servedModel: string): string {
  const format = request.response_format?.type;
  if (format === 'json_object' || format === 'json_schema') {
    return JSON.stringify({ test: true, model: servedModel });
  }
  return `This is a test response from ${servedModel}. Your Conflux test key works: the request was authenticated, rate-limited and validated, no provider was called, and nothing was billed.`;
}

function mockCallId(request: ChatCompletionRequest): string {
  return `call_test_${request.messages.length}_${randomBytes(6).toString('hex')}`;
}
