import { randomBytes } from 'node:crypto';
import { ErrorCode, GatewayError } from '../common/errors.js';
import type { ChatCompletionRequest } from '../providers/openai-types.js';
import type { NormalizedResponse, StreamPart } from '../providers/types.js';
import type { Candidate } from '../routing/candidates.js';
import { unavailable, type RunResult } from '../routing/failover.js';

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

/** The `x-conflux-mock` header, checked: a 400 naming it when it asks for something the mock cannot do. */
export function mockBehaviour(header: string | undefined): MockBehaviour {
  const behaviour = (header ?? 'normal') as MockBehaviour;
  if (!MOCK_BEHAVIOURS.includes(behaviour)) {
    throw new GatewayError(
      ErrorCode.InvalidRequest,
      `x-conflux-mock must be one of ${MOCK_BEHAVIOURS.join(', ')}.`,
      { param: 'x-conflux-mock' },
    );
  }
  return behaviour;
}

/**
 * A test key's request "run" over its checked candidates, as the failover runner would report it: served by the
 * requested model (or its fallback when `failover` is simulated), or failed as `rate_limit`/`server_error` say.
 */
export function mockRun(
  request: ChatCompletionRequest,
  chain: readonly Candidate[],
  behaviour: MockBehaviour,
  started: number,
  now: number,
): RunResult {
  const primary = chain[0];
  const candidate = behaviour === 'failover' ? (chain.find((c) => !c.primary) ?? primary) : primary;
  const attempts = behaviour === 'failover' ? 2 : 1;
  if (behaviour === 'rate_limit') {
    const error = new GatewayError(
      ErrorCode.RateLimitExceeded,
      'Simulated provider rate limit (x-conflux-mock: rate_limit).',
      { headers: { 'retry-after': '1' } },
    );
    return { kind: 'failed', error, attempts, abandoned: null };
  }
  if (behaviour === 'server_error' || !candidate) {
    return { kind: 'failed', error: unavailable(request.model, attempts), attempts, abandoned: null };
  }
  if (request.stream !== true) {
    return { kind: 'json', candidate, attempts, response: mockAnswer(request, candidate.model.id) };
  }
  const parts = mockStream(request, candidate.model.id)[Symbol.asyncIterator]();
  return {
    kind: 'stream',
    candidate,
    attempts,
    head: [],
    rest: parts,
    cancel: () => undefined,
    broke: () => undefined,
    ttftMs: now - started,
    finished: () => undefined,
  };
}

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
