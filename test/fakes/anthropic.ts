import type { IncomingMessage, ServerResponse } from 'node:http';
import { countTexts } from '../../src/common/tokens.js';
import {
  completionPieces,
  cutConnection,
  FAKE_TOOL_ARGUMENTS,
  FakeProvider,
  promptTokens,
  sleep,
  answersWithToolCall,
  writeSse,
  type ChatIntent,
  type FakeFault,
  type FakeProtocol,
} from './base.js';

/**
 * Fake Anthropic Messages API (providers.md §2, §8): `POST /v1/messages` with `x-api-key` (or
 * `Authorization: Bearer`), named SSE events with `ping`s sprinkled in, native error bodies
 * `{"type":"error","error":{type,message},"request_id"}`, `anthropic-ratelimit-*` headers (reset = RFC3339) and
 * `request-id` on every answer, 529 overloaded_error, mid-stream `event: error`, and the Claude 5.x rule that
 * refuses a forced tool_choice on opus-5-5, sonnet-5-5 and fable (haiku-5-5 accepts it, as the catalog says).
 *
 * `max_tokens` is required here, so it is a cap on every request, not the length the client wants: the gateway
 * sends the model's maximum (or what the balance affords, never under 1,024) when its client set none. Like a real
 * model, the fake then writes its own short answer (the 8 tokens the other fakes write without a maximum) and
 * stops; a smaller `max_tokens`, as tests send, is the exact length (the contract of base.ts). Usage is counted
 * from the text it wrote.
 */

/** From this `max_tokens` on, a cap rather than a requested length: the least the gateway fills in. */
const CAP_TOKENS = 1024;
const NATURAL_ANSWER_TOKENS = 8;

/** Models that refuse a forced tool_choice (providers.md, Claude 5.x rules; catalog `forced_tool_choice: false`). */
const NO_FORCED_TOOL_CHOICE = /(opus-5-5|sonnet-5-5|fable)/;

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

const ERROR_MESSAGES: Record<string, string> = {
  invalid_request_error: 'Invalid request.',
  authentication_error: 'invalid x-api-key',
  billing_error: 'Your credit balance is too low to access the Anthropic API.',
  permission_error: 'Your API key does not have permission to use the specified resource.',
  not_found_error: 'Not found.',
  request_too_large: 'Request exceeds the maximum allowed number of bytes.',
  rate_limit_error: 'This request would exceed the rate limit for your organization.',
  api_error: 'Internal server error',
  timeout_error: 'Request timed out.',
  overloaded_error: 'Overloaded',
};

const REQUEST_LIMIT = 4000;
const TOKEN_LIMIT = 2_000_000;

interface NativeBlock {
  type: string;
  text?: string;
  input?: unknown;
  content?: unknown;
}
interface NativeRequest {
  model?: string;
  stream?: boolean;
  max_tokens?: number;
  temperature?: number;
  system?: string | NativeBlock[];
  messages?: Array<{ role: string; content: string | NativeBlock[] }>;
  tools?: Array<{ name: string }>;
  tool_choice?: { type: string };
  output_config?: { format?: unknown };
}

function errorType(status: number): string {
  return ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

/**
 * What a document costs at Anthropic: its pages are read as text and as images, about 1,500–3,000 tokens a page.
 * The fake counts every PDF as a 2,500-token page, whatever its size, as the real API would for a one-page file.
 */
export const DOCUMENT_TOKENS = 2_500;

function blocksOf(content: string | NativeBlock[] | undefined): NativeBlock[] {
  if (content === undefined) {
    return [];
  }
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

/** Texts the prompt token count is based on: message and system text, tool results and tool inputs. */
function blockTexts(block: NativeBlock): string[] {
  if (block.type === 'text') {
    return [block.text ?? ''];
  }
  if (block.type === 'tool_use') {
    return [JSON.stringify(block.input ?? {})];
  }
  if (block.type === 'tool_result') {
    return blocksOf(block.content as string | NativeBlock[] | undefined).flatMap(blockTexts);
  }
  return [];
}

let counter = 0;
function nativeId(prefix: string): string {
  counter += 1;
  return `${prefix}_fake${Date.now().toString(36)}${counter.toString(36).padStart(4, '0')}`;
}

/** RFC3339 without fractional seconds, as Anthropic writes it. */
function rfc3339(msFromNow: number): string {
  return new Date(Date.now() + msFromNow).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function rateLimitHeaders(remainingRequests = REQUEST_LIMIT - 1): Record<string, string> {
  const reset = rfc3339(60_000);
  const headers: Record<string, string> = {
    'request-id': nativeId('req'),
    'anthropic-ratelimit-requests-limit': String(REQUEST_LIMIT),
    'anthropic-ratelimit-requests-remaining': String(remainingRequests),
    'anthropic-ratelimit-requests-reset': reset,
  };
  for (const kind of ['tokens', 'input-tokens', 'output-tokens']) {
    headers[`anthropic-ratelimit-${kind}-limit`] = String(TOKEN_LIMIT);
    headers[`anthropic-ratelimit-${kind}-remaining`] = String(remainingRequests > 0 ? TOKEN_LIMIT : 0);
    headers[`anthropic-ratelimit-${kind}-reset`] = reset;
  }
  return headers;
}

function errorBody(type: string, message: string): string {
  return JSON.stringify({ type: 'error', error: { type, message }, request_id: nativeId('req') });
}

function writeJson(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...rateLimitHeaders(), ...headers });
  res.end(body);
}

/** The checks the real API makes that the gateway's mapping must satisfy; null when the request passes. */
function rejection(body: NativeRequest): string | null {
  const model = body.model ?? '';
  if (typeof body.max_tokens !== 'number') {
    return 'max_tokens: Field required';
  }
  if (typeof body.temperature === 'number' && (body.temperature < 0 || body.temperature > 1)) {
    return 'temperature: range: 0..1';
  }
  for (const [i, message] of (body.messages ?? []).entries()) {
    if (blocksOf(message.content).some((block) => block.type === 'text' && !block.text)) {
      return `messages.${i}: text content blocks must be non-empty`;
    }
  }
  const forced = body.tool_choice?.type === 'any' || body.tool_choice?.type === 'tool';
  if (forced && NO_FORCED_TOOL_CHOICE.test(model)) {
    return `tool_choice: forced tool use (type "${body.tool_choice?.type}") is not supported by ${model}.`;
  }
  return null;
}

class AnthropicProtocol implements FakeProtocol {
  readonly name = 'anthropic';
  /** chatIntent runs before the answer is written: remember which intents must get the native 400. */
  private readonly rejections = new WeakMap<ChatIntent, string>();

  authorize(req: IncomingMessage, apiKey: string): boolean {
    return req.headers['x-api-key'] === apiKey || req.headers.authorization === `Bearer ${apiKey}`;
  }

  unauthorized(res: ServerResponse): void {
    writeJson(res, 401, errorBody('authentication_error', 'invalid x-api-key'));
  }

  isProbe(method: string, path: string): boolean {
    return (
      method === 'GET' &&
      (path === '/v1/models' || path.startsWith('/v1/models?') || path.startsWith('/v1/models/'))
    );
  }

  answerProbe(res: ServerResponse): void {
    const model = {
      type: 'model',
      id: 'claude-sonnet-5-5',
      display_name: 'Claude Sonnet 5.5',
      created_at: '2026-09-22T00:00:00Z',
      max_input_tokens: 1_000_000,
      max_tokens: 128_000,
      capabilities: {},
    };
    writeJson(
      res,
      200,
      JSON.stringify({ data: [model], has_more: true, first_id: model.id, last_id: model.id }),
    );
  }

  chatIntent(method: string, path: string, body: unknown): ChatIntent | null {
    if (method !== 'POST' || path.split('?')[0] !== '/v1/messages') {
      return null;
    }
    const native = (typeof body === 'object' && body !== null ? body : {}) as NativeRequest;
    const messages = native.messages ?? [];
    const last = messages[messages.length - 1];
    const intent: ChatIntent = {
      model: native.model ?? '',
      stream: native.stream === true,
      maxTokens:
        typeof native.max_tokens !== 'number'
          ? undefined
          : native.max_tokens >= CAP_TOKENS
            ? NATURAL_ANSWER_TOKENS
            : native.max_tokens,
      promptTexts: [
        ...blocksOf(native.system).flatMap(blockTexts),
        ...messages.flatMap((message) => blocksOf(message.content).flatMap(blockTexts)),
      ],
      tools: (native.tools ?? []).map((tool) => tool.name),
      lastFromUser:
        last?.role === 'user' && !blocksOf(last.content).some((block) => block.type === 'tool_result'),
      json: native.output_config?.format !== undefined,
      n: 1,
      partTokens:
        DOCUMENT_TOKENS *
        messages.flatMap((message) => blocksOf(message.content)).filter((block) => block.type === 'document')
          .length,
    };
    const rejected = rejection(native);
    if (rejected) {
      this.rejections.set(intent, rejected);
    }
    return intent;
  }

  private rejected(res: ServerResponse, intent: ChatIntent): boolean {
    const message = this.rejections.get(intent);
    if (message !== undefined) {
      writeJson(res, 400, errorBody('invalid_request_error', message));
      return true;
    }
    return false;
  }

  answerChat(res: ServerResponse, intent: ChatIntent): void {
    if (this.rejected(res, intent)) {
      return;
    }
    const input = promptTokens(intent);
    const toolCall = answersWithToolCall(intent);
    const pieces = completionPieces(intent);
    const content = toolCall
      ? [
          {
            type: 'tool_use',
            id: nativeId('toolu'),
            name: intent.tools[0],
            input: JSON.parse(FAKE_TOOL_ARGUMENTS),
          },
        ]
      : [{ type: 'text', text: pieces.join('') }];
    const output = countTexts([toolCall ? FAKE_TOOL_ARGUMENTS : pieces.join('')]);
    writeJson(
      res,
      200,
      JSON.stringify({
        id: nativeId('msg'),
        type: 'message',
        role: 'assistant',
        model: intent.model,
        content,
        stop_reason: toolCall ? 'tool_use' : 'end_turn',
        stop_sequence: null,
        usage: {
          input_tokens: input,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          output_tokens: output,
          service_tier: 'standard',
        },
      }),
    );
  }

  async streamChat(
    res: ServerResponse,
    intent: ChatIntent,
    fault?: Extract<FakeFault, { afterChunks: number }>,
  ): Promise<void> {
    if (this.rejected(res, intent)) {
      return;
    }
    const input = promptTokens(intent);
    const toolCall = answersWithToolCall(intent);
    const send = (event: string, data: Record<string, unknown>): void =>
      writeSse(res, JSON.stringify({ type: event, ...data }), { event });
    const ping = (): void => writeSse(res, JSON.stringify({ type: 'ping' }), { event: 'ping' });

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      ...rateLimitHeaders(),
    });
    send('message_start', {
      message: {
        id: nativeId('msg'),
        type: 'message',
        role: 'assistant',
        content: [],
        model: intent.model,
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: input,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          output_tokens: 1,
        },
      },
    });

    let deltas: Array<Record<string, unknown>>;
    let output: number;
    if (toolCall) {
      send('content_block_start', {
        index: 0,
        content_block: { type: 'tool_use', id: nativeId('toolu'), name: intent.tools[0], input: {} },
      });
      const half = Math.floor(FAKE_TOOL_ARGUMENTS.length / 2);
      // The first partial_json is often empty on the real API.
      deltas = ['', FAKE_TOOL_ARGUMENTS.slice(0, half), FAKE_TOOL_ARGUMENTS.slice(half)].map((partial) => ({
        type: 'input_json_delta',
        partial_json: partial,
      }));
      output = countTexts([FAKE_TOOL_ARGUMENTS]);
    } else {
      send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
      const pieces = completionPieces(intent);
      deltas = pieces.map((text) => ({ type: 'text_delta', text }));
      output = countTexts([pieces.join('')]);
    }
    ping();

    for (const [i, delta] of deltas.entries()) {
      if (fault && i === fault.afterChunks) {
        if (fault.kind === 'stall') {
          return; // the connection stays open with nothing more written
        }
        if (fault.kind === 'cut') {
          // Let what was written reach the client first: the cut is mid-answer, not before the first byte.
          await sleep(20);
          cutConnection(res);
          return;
        }
        send('error', { error: { type: 'overloaded_error', message: 'Overloaded' } });
        res.end();
        return;
      }
      send('content_block_delta', { index: 0, delta });
      if (i === 1) {
        ping();
      }
    }

    send('content_block_stop', { index: 0 });
    // message_delta usage is cumulative for the whole message (input repeated), not an increment.
    send('message_delta', {
      delta: { stop_reason: toolCall ? 'tool_use' : 'end_turn', stop_sequence: null },
      usage: {
        input_tokens: input,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: output,
      },
    });
    send('message_stop', {});
    res.end();
  }

  errorAnswer(status: number): { body: string; headers?: Record<string, string> } {
    const type = errorType(status);
    return { body: errorBody(type, ERROR_MESSAGES[type] ?? 'Error'), headers: rateLimitHeaders() };
  }

  rateLimited(res: ServerResponse, retryAfterSeconds: number): void {
    writeJson(res, 429, errorBody('rate_limit_error', ERROR_MESSAGES.rate_limit_error), {
      ...rateLimitHeaders(0),
      'retry-after': String(retryAfterSeconds),
    });
  }
}

export function createAnthropicFake(options: { apiKey?: string } = {}): FakeProvider {
  return new FakeProvider(new AnthropicProtocol(), options);
}

/** The base URL the gateway is configured with: the fake's origin plus Anthropic's `/v1` prefix. */
export function anthropicBaseUrl(fake: FakeProvider): string {
  return `${fake.origin}/v1`;
}
