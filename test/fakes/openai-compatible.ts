import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { countTexts } from '../../src/common/tokens.js';
import {
  answersWithToolCall,
  completionPieces,
  cutConnection,
  FAKE_TOOL_ARGUMENTS,
  type ChatIntent,
  type FakeFault,
  type FakeProtocol,
  promptTokens,
  sleep,
  writeSse,
} from './base.js';

/**
 * The wire protocol shared by the OpenAI-compatible fakes (openai.ts, cerebras.ts, groq.ts): Bearer auth,
 * `{prefix}/chat/completions`, `{prefix}/models`, `chat.completion` bodies, `data:` chunk frames ending with
 * `data: [DONE]`, OpenAI-shaped usage. Each provider configures what differs (providers.md §1, §4, §5).
 */

export interface NativeError {
  message: string;
  type: string;
  param?: string | null;
  code?: string | null;
}

export interface OpenAiCompatibleFakeConfig {
  name: 'openai' | 'cerebras' | 'groq';
  /** The version prefix every path starts with: `/v1` (OpenAI, Cerebras) or `/openai/v1` (Groq). */
  pathPrefix: string;
  /** true: `{"error":{…}}` (OpenAI, Groq); false: the flat object itself (Cerebras). */
  errorEnvelope: boolean;
  /** The native error object per status (the shared defaults cover the common ones). */
  errors?: Partial<Record<number, NativeError>>;
  /** Native rate-limit headers, sent on every answer (`exhausted` on a 429). */
  rateLimitHeaders(exhausted: boolean): Record<string, string>;
  /** The native list entry for a model id. */
  modelEntry(id: string): Record<string, unknown>;
  /** Models listed by the probe. */
  models: string[];
  /** The provider's own 400 for a request it refuses (unsupported parameters), or undefined. */
  reject(body: Record<string, unknown>): (NativeError & { status?: number }) | undefined;
  /** How stream usage is reported: OpenAI `choices:[]` chunk when asked, Cerebras on the final chunk, Groq in `x_groq`. */
  streamUsage: 'include_usage' | 'final_chunk' | 'x_groq';
  /** Extra fields of a `chat.completion` / of the message (OpenAI `refusal`, Cerebras `time_info`, …). */
  completionExtras?(requestId: string): Record<string, unknown>;
  messageExtras?: Record<string, unknown>;
  /** Extra fields on the final stream chunk besides usage (Cerebras `time_info`). */
  finalChunkExtras?(requestId: string): Record<string, unknown>;
  /** Extra fields on the first stream chunk (Groq `x_groq: {id}`). */
  firstChunkExtras?(requestId: string): Record<string, unknown>;
  /** Extra headers on every answer (OpenAI `openai-version`, …). */
  extraHeaders?: Record<string, string>;
}

const DEFAULT_ERRORS: Record<number, NativeError> = {
  400: { message: 'Invalid request.', type: 'invalid_request_error', param: null, code: null },
  401: { message: 'Invalid API Key', type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
  403: { message: 'Permission denied.', type: 'permission_error', param: null, code: 'permission_denied' },
  404: {
    message: 'The model does not exist or you do not have access to it.',
    type: 'invalid_request_error',
    param: 'model',
    code: 'model_not_found',
  },
  408: { message: 'Request timed out.', type: 'timeout_error', param: null, code: null },
  413: {
    message: 'Request too large.',
    type: 'invalid_request_error',
    param: 'messages',
    code: 'request_too_large',
  },
  422: { message: 'Unprocessable request.', type: 'invalid_request_error', param: null, code: null },
  429: {
    message: 'Rate limit reached for requests.',
    type: 'requests',
    param: null,
    code: 'rate_limit_exceeded',
  },
  500: {
    message: 'The server had an error while processing your request. Sorry about that!',
    type: 'server_error',
    param: null,
    code: null,
  },
  502: { message: 'Bad gateway.', type: 'server_error', param: null, code: null },
  503: {
    message: 'The engine is currently overloaded, please try again later.',
    type: 'service_unavailable_error',
    param: null,
    code: 'server_is_overloaded',
  },
};

/** Answers and stream frames of one request: the same id and created time throughout. */
interface Reply {
  id: string;
  created: number;
  requestId: string;
}

export class OpenAiCompatibleProtocol implements FakeProtocol {
  readonly name: string;
  /** The provider's own 400 for a parsed request, kept until its answer is written. */
  private readonly rejections = new WeakMap<ChatIntent, NativeError & { status?: number }>();
  /** Whether the client asked for `stream_options.include_usage`. */
  private readonly includeUsage = new WeakSet<ChatIntent>();

  constructor(private readonly config: OpenAiCompatibleFakeConfig) {
    this.name = config.name;
  }

  authorize(req: IncomingMessage, apiKey: string): boolean {
    return req.headers.authorization === `Bearer ${apiKey}`;
  }

  unauthorized(res: ServerResponse): void {
    this.writeError(res, 401, this.nativeError(401));
  }

  isProbe(method: string, path: string): boolean {
    const models = `${this.config.pathPrefix}/models`;
    return (
      method === 'GET' && (path === models || path.startsWith(`${models}/`) || path.startsWith(`${models}?`))
    );
  }

  answerProbe(res: ServerResponse, path: string): void {
    const models = `${this.config.pathPrefix}/models`;
    const rest = path.split('?')[0].slice(models.length);
    const body =
      rest.length > 1
        ? this.config.modelEntry(decodeURIComponent(rest.slice(1)))
        : { object: 'list', data: this.config.models.map((id) => this.config.modelEntry(id)) };
    this.writeJson(res, 200, body);
  }

  chatIntent(method: string, path: string, body: unknown): ChatIntent | null {
    if (method !== 'POST' || path.split('?')[0] !== `${this.config.pathPrefix}/chat/completions`) {
      return null;
    }
    const request = isRecord(body) ? body : {};
    const messages = Array.isArray(request.messages) ? request.messages.filter(isRecord) : [];
    const tools = Array.isArray(request.tools) ? request.tools.filter(isRecord) : [];
    const format = isRecord(request.response_format) ? request.response_format.type : undefined;
    const maxTokens = request.max_completion_tokens ?? request.max_tokens;
    const intent: ChatIntent = {
      model: typeof request.model === 'string' ? request.model : '',
      stream: request.stream === true,
      maxTokens: typeof maxTokens === 'number' ? maxTokens : undefined,
      promptTexts: messages.flatMap((message) => contentTexts(message.content)),
      tools: tools.map((tool) => (isRecord(tool.function) ? String(tool.function.name) : '')),
      lastFromUser: messages.at(-1)?.role === 'user',
      json: format === 'json_object' || format === 'json_schema',
      n: typeof request.n === 'number' ? request.n : 1,
    };
    const rejection = this.validate(request, messages);
    if (rejection) {
      this.rejections.set(intent, rejection);
    }
    if (isRecord(request.stream_options) && request.stream_options.include_usage === true) {
      this.includeUsage.add(intent);
    }
    return intent;
  }

  answerChat(res: ServerResponse, intent: ChatIntent): void {
    if (this.rejectIfInvalid(res, intent)) {
      return;
    }
    const reply = newReply();
    const answer = deterministicAnswer(intent);
    const choices = Array.from({ length: intent.n }, (_, index) => ({
      index,
      message: {
        role: 'assistant',
        content: answer.toolCall ? null : answer.pieces.join(''),
        ...this.config.messageExtras,
        ...(answer.toolCall && {
          tool_calls: [
            {
              id: newToolCallId(),
              type: 'function',
              function: { name: answer.toolCall, arguments: FAKE_TOOL_ARGUMENTS },
            },
          ],
        }),
      },
      logprobs: null,
      finish_reason: answer.finishReason,
    }));
    this.writeJson(res, 200, {
      id: reply.id,
      object: 'chat.completion',
      created: reply.created,
      model: intent.model,
      choices,
      usage: usageOf(intent, answer),
      system_fingerprint: 'fp_fake01',
      ...this.config.completionExtras?.(reply.requestId),
    });
  }

  async streamChat(
    res: ServerResponse,
    intent: ChatIntent,
    fault?: Extract<FakeFault, { afterChunks: number }>,
  ): Promise<void> {
    if (this.rejectIfInvalid(res, intent)) {
      return;
    }
    const reply = newReply();
    const answer = deterministicAnswer(intent);
    const includeUsage = this.config.streamUsage === 'include_usage' && this.includeUsage.has(intent);
    const chunk = (choices: unknown[], extras: Record<string, unknown> = {}): string =>
      JSON.stringify({
        id: reply.id,
        object: 'chat.completion.chunk',
        created: reply.created,
        model: intent.model,
        system_fingerprint: 'fp_fake01',
        choices,
        ...(includeUsage && { usage: null }),
        ...extras,
      });
    const delta = (index: number, value: Record<string, unknown>, finish: string | null = null) => ({
      index,
      delta: value,
      logprobs: null,
      finish_reason: finish,
    });

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      ...this.headers(reply.requestId, false),
    });
    const first = this.config.firstChunkExtras?.(reply.requestId) ?? {};
    for (let index = 0; index < intent.n; index += 1) {
      const role = answer.toolCall
        ? { role: 'assistant', content: null }
        : { role: 'assistant', content: '' };
      writeSse(res, chunk([delta(index, role)], index === 0 ? first : {}));
    }

    // The content frames, per choice: text pieces, or a tool call announced then its argument fragments.
    const frames: Array<Record<string, unknown>> = answer.toolCall
      ? [
          {
            tool_calls: [
              { index: 0, id: '', type: 'function', function: { name: answer.toolCall, arguments: '' } },
            ],
          },
          ...splitArguments(FAKE_TOOL_ARGUMENTS).map((fragment) => ({
            tool_calls: [{ index: 0, function: { arguments: fragment } }],
          })),
        ]
      : answer.pieces.map((piece) => ({ content: piece }));
    const toolIds = Array.from({ length: intent.n }, () => newToolCallId());

    let sent = 0;
    for (const frame of frames) {
      for (let index = 0; index < intent.n; index += 1) {
        if (fault && sent === fault.afterChunks) {
          await this.playFault(res, fault);
          return;
        }
        writeSse(res, chunk([delta(index, withToolId(frame, toolIds[index]))]));
        sent += 1;
      }
    }
    if (fault && sent <= fault.afterChunks) {
      await this.playFault(res, fault);
      return;
    }

    const usage = usageOf(intent, answer);
    for (let index = 0; index < intent.n; index += 1) {
      const last = index === intent.n - 1;
      const extras: Record<string, unknown> = {};
      if (last && this.config.streamUsage === 'final_chunk') {
        Object.assign(extras, { usage }, this.config.finalChunkExtras?.(reply.requestId));
      }
      if (last && this.config.streamUsage === 'x_groq') {
        extras.x_groq = { id: reply.requestId, usage: { ...usage, queue_time: 0.02, total_time: 0.05 } };
      }
      writeSse(res, chunk([delta(index, {}, answer.finishReason)], extras));
    }
    if (includeUsage) {
      writeSse(res, chunk([], { usage }));
    }
    writeSse(res, '[DONE]');
    res.end();
  }

  errorAnswer(status: number): { body: string; headers?: Record<string, string> } {
    return {
      body: JSON.stringify(this.wrap(this.nativeError(status))),
      headers: {
        ...this.headers(newRequestId(), status === 429),
        ...(status === 429 && { 'retry-after': '1' }),
      },
    };
  }

  rateLimited(res: ServerResponse, retryAfterSeconds: number): void {
    this.writeError(res, 429, this.nativeError(429), { 'retry-after': String(retryAfterSeconds) });
  }

  private async playFault(
    res: ServerResponse,
    fault: Extract<FakeFault, { afterChunks: number }>,
  ): Promise<void> {
    if (fault.kind === 'stall') {
      return; // the frames written so far stay the last: the connection stays open
    }
    if (fault.kind === 'stream_error') {
      // The family reports a failure after the 200 as one more data frame holding an error envelope.
      writeSse(res, JSON.stringify({ error: withDefaults(this.nativeError(500)) }));
      res.end();
      return;
    }
    // Let the frames already written reach the client before the connection drops.
    await sleep(20);
    cutConnection(res);
  }

  private validate(
    request: Record<string, unknown>,
    messages: Array<Record<string, unknown>>,
  ): (NativeError & { status?: number }) | undefined {
    if (typeof request.model !== 'string' || request.model === '') {
      return { message: 'you must provide a model parameter', type: 'invalid_request_error', param: 'model' };
    }
    if (messages.length === 0) {
      return {
        message: "'messages' must contain at least one message",
        type: 'invalid_request_error',
        param: 'messages',
      };
    }
    return this.config.reject(request);
  }

  private rejectIfInvalid(res: ServerResponse, intent: ChatIntent): boolean {
    const rejection = this.rejections.get(intent);
    if (!rejection) {
      return false;
    }
    const { status, ...error } = rejection;
    this.writeError(res, status ?? 400, error);
    return true;
  }

  private nativeError(status: number): NativeError {
    return (
      this.config.errors?.[status] ??
      DEFAULT_ERRORS[status] ?? {
        message: `The server answered ${status}.`,
        type: status >= 500 ? 'server_error' : 'invalid_request_error',
        param: null,
        code: null,
      }
    );
  }

  private wrap(error: NativeError): unknown {
    return this.config.errorEnvelope ? { error: withDefaults(error) } : withDefaults(error);
  }

  private writeError(
    res: ServerResponse,
    status: number,
    error: NativeError,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, {
      'content-type': 'application/json',
      ...this.headers(newRequestId(), status === 429),
      ...headers,
    });
    res.end(JSON.stringify(this.wrap(error)));
  }

  private writeJson(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json', ...this.headers(newRequestId(), false) });
    res.end(JSON.stringify(body));
  }

  private headers(requestId: string, exhausted: boolean): Record<string, string> {
    return {
      'x-request-id': requestId,
      ...this.config.rateLimitHeaders(exhausted),
      ...this.config.extraHeaders,
    };
  }
}

interface Answer {
  pieces: string[];
  toolCall?: string;
  finishReason: 'stop' | 'tool_calls';
}

function deterministicAnswer(intent: ChatIntent): Answer {
  if (answersWithToolCall(intent)) {
    return { pieces: [], toolCall: intent.tools[0], finishReason: 'tool_calls' };
  }
  return { pieces: completionPieces(intent), finishReason: 'stop' };
}

/** Completion tokens count every choice, as OpenAI bills them; a tool call costs its arguments. */
function usageOf(intent: ChatIntent, answer: Answer): Record<string, unknown> {
  const perChoice = answer.toolCall ? countTexts([FAKE_TOOL_ARGUMENTS]) : countTexts(answer.pieces);
  const prompt = promptTokens(intent);
  const completion = perChoice * intent.n;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

function contentTexts(content: unknown): string[] {
  if (typeof content === 'string') {
    return [content];
  }
  if (Array.isArray(content)) {
    return content.filter(isRecord).flatMap((part) => (typeof part.text === 'string' ? [part.text] : []));
  }
  return [];
}

/** `{"location":"Paris"}` → a few fragments, the way the family streams arguments. */
function splitArguments(text: string): string[] {
  const size = Math.ceil(text.length / 3);
  return [text.slice(0, size), text.slice(size, size * 2), text.slice(size * 2)].filter(
    (part) => part !== '',
  );
}

function withToolId(frame: Record<string, unknown>, id: string): Record<string, unknown> {
  if (!Array.isArray(frame.tool_calls) || !isRecord(frame.tool_calls[0]) || frame.tool_calls[0].id !== '') {
    return frame;
  }
  return { tool_calls: [{ ...frame.tool_calls[0], id }] };
}

function withDefaults(error: NativeError): NativeError {
  return { message: error.message, type: error.type, param: error.param ?? null, code: error.code ?? null };
}

function newReply(): Reply {
  return {
    id: `chatcmpl-${randomUUID()}`,
    created: Math.floor(Date.now() / 1000),
    requestId: newRequestId(),
  };
}

export function newRequestId(): string {
  return `req_${randomBytes(16).toString('hex')}`;
}

function newToolCallId(): string {
  return `call_${randomBytes(12).toString('base64url')}`;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The fields present (not null) among `fields`: what a provider that "400s when present" looks at. */
export function presentField(body: Record<string, unknown>, fields: readonly string[]): string | undefined {
  return fields.find((field) => body[field] !== undefined && body[field] !== null);
}
