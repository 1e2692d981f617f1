import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { countTexts } from '../../src/common/tokens.js';

/**
 * Shared machinery of the fake providers: an HTTP server on a free local port that records every request and
 * plays scripted faults. Each provider's fake (openai.ts, anthropic.ts, gemini.ts, cerebras.ts, groq.ts) plugs
 * in its own wire protocol through `FakeProtocol`.
 *
 * Deterministic answers, the same for every fake:
 * - the completion is `completionTokens(maxTokens)` tokens: "Hello" then " hello" repeated (one token each),
 *   so a request with `max_tokens: N` gets exactly N completion tokens (8 when no maximum was sent);
 * - prompt tokens = `countTexts()` over the text of every message (system included), no overhead: the same
 *   count the gateway estimates for plain-text messages;
 * - tools given and the last message from the user → one tool call to the first tool, arguments
 *   `{"location":"Paris"}` (finish reason tool_calls);
 * - JSON output asked for (json_object / json_schema) → the text `{"ok":true}`.
 */

export type FakeFault =
  /** Answer with this status and the provider's native error body (or `body` verbatim). */
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string> }
  /** The provider's native 429 with its rate-limit headers and `retry-after`. */
  | { kind: 'rate_limit'; retryAfterSeconds?: number }
  /** Stream: send N content chunks, then drop the connection without a terminator. */
  | { kind: 'cut'; afterChunks: number }
  /** Stream: send N content chunks, then the provider's native mid-stream error. */
  | { kind: 'stream_error'; afterChunks: number }
  /** Stream: send N content chunks, then stop writing with the connection left open (a stalled provider). */
  | { kind: 'stall'; afterChunks: number }
  /** Wait this long before the first byte. */
  | { kind: 'slow'; ms: number }
  /** Never answer (the socket stays open until the client gives up). */
  | { kind: 'hang' }
  /** Destroy the connection at once (like a provider that is down). */
  | { kind: 'down' };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  /**
   * How the exchange ended, once it has: `finished` when the fake wrote its whole answer, `aborted` when the
   * connection closed first (the client, here the gateway, went away).
   */
  closed?: 'finished' | 'aborted';
}

export interface FaultRule {
  fault: FakeFault;
  /** How many matching requests it applies to (Infinity = until cleared). */
  remaining: number;
  /** Which requests: chat calls only (default), probes only, or all. */
  scope: 'chat' | 'probe' | 'all';
  /** Only requests for this provider model id. */
  model?: string;
}

/** What the gateway sent, reduced to what every fake needs to build its deterministic answer. */
export interface ChatIntent {
  model: string;
  stream: boolean;
  maxTokens?: number;
  promptTexts: string[];
  /** Names of the tools offered; empty when none. */
  tools: string[];
  /** true when the last message is the user's (not a tool result). */
  lastFromUser: boolean;
  json: boolean;
  n: number;
  /** Tokens of parts that are not text (documents, images), as the provider counts them. */
  partTokens?: number;
}

export interface FakeProtocol {
  name: string;
  /** The header carrying the key, and how the key appears in it. */
  authorize(req: IncomingMessage, apiKey: string): boolean;
  /** Writes the native "bad key" answer. */
  unauthorized(res: ServerResponse): void;
  /** True for the probe endpoint(s); `answerProbe` writes its answer. */
  isProbe(method: string, path: string): boolean;
  answerProbe(res: ServerResponse, path: string): void;
  /** Parses a chat call; returns null when the path is not the chat endpoint. */
  chatIntent(method: string, path: string, body: unknown): ChatIntent | null;
  /** Writes the native non-streaming answer. */
  answerChat(res: ServerResponse, intent: ChatIntent): void;
  /** Writes the native stream; `fault` is a cut, stream_error or stall to play after N content chunks. */
  streamChat(
    res: ServerResponse,
    intent: ChatIntent,
    fault?: Extract<FakeFault, { afterChunks: number }>,
  ): Promise<void>;
  /** Writes the native error answer for a status (used by `status` faults without a body). */
  errorAnswer(status: number): { body: string; headers?: Record<string, string> };
  /** Writes the native 429. */
  rateLimited(res: ServerResponse, retryAfterSeconds: number): void;
}

export const FAKE_TOOL_ARGUMENTS = '{"location":"Paris"}';
export const FAKE_JSON_ANSWER = '{"ok":true}';

export function completionTokens(maxTokens: number | undefined): number {
  return maxTokens ?? 8;
}

/** The completion as a list of one-token pieces. */
export function completionPieces(intent: ChatIntent): string[] {
  if (intent.json) {
    return [FAKE_JSON_ANSWER];
  }
  const count = completionTokens(intent.maxTokens);
  return Array.from({ length: count }, (_, i) => (i === 0 ? 'Hello' : ' hello'));
}

export function promptTokens(intent: ChatIntent): number {
  return countTexts(intent.promptTexts) + (intent.partTokens ?? 0);
}

/** Whether the deterministic answer is a tool call. */
export function answersWithToolCall(intent: ChatIntent): boolean {
  return intent.tools.length > 0 && intent.lastFromUser;
}

/** Listens on 127.0.0.1:port; rejects with the listen error (its `port` set) instead of emitting it. */
export function listenOn(server: Server, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => reject(Object.assign(error, { port }));
    server.once('error', failed);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', failed);
      resolve();
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class FakeProvider {
  readonly requests: RecordedRequest[] = [];
  readonly apiKey: string;
  private readonly rules: FaultRule[] = [];
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  constructor(
    readonly protocol: FakeProtocol,
    options: { apiKey?: string } = {},
  ) {
    this.apiKey = options.apiKey ?? `fake-${protocol.name}-key`;
  }

  get name(): string {
    return this.protocol.name;
  }

  /** The origin, e.g. http://127.0.0.1:41234 (each provider's base URL adds its own path prefix). */
  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    // A port already taken rejects (EADDRINUSE), for the caller to explain, instead of an unhandled 'error'.
    await listenOn(this.server, port);
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Plays `fault` on the next `times` matching requests (default 1; Infinity until `clearFaults`). */
  addFault(
    fault: FakeFault,
    options: { times?: number; scope?: FaultRule['scope']; model?: string } = {},
  ): void {
    this.rules.push({
      fault,
      remaining: options.times ?? 1,
      scope: options.scope ?? 'chat',
      model: options.model,
    });
  }

  /** Down for everything (chat and probes) until `clearFaults`. */
  setDown(down = true): void {
    this.clearFaults();
    if (down) {
      this.addFault({ kind: 'down' }, { times: Infinity, scope: 'all' });
    }
  }

  clearFaults(): void {
    this.rules.length = 0;
  }

  reset(): void {
    this.clearFaults();
    this.requests.length = 0;
  }

  chatRequests(): RecordedRequest[] {
    return this.requests.filter((r) => !this.protocol.isProbe(r.method, r.path));
  }

  probeRequests(): RecordedRequest[] {
    return this.requests.filter((r) => this.protocol.isProbe(r.method, r.path));
  }

  private takeFault(isProbe: boolean, model: string | undefined): FakeFault | undefined {
    const index = this.rules.findIndex(
      (rule) =>
        rule.remaining > 0 &&
        (rule.scope === 'all' || (rule.scope === 'probe') === isProbe) &&
        (rule.model === undefined || rule.model === model),
    );
    if (index < 0) {
      return undefined;
    }
    const rule = this.rules[index];
    rule.remaining -= 1;
    if (rule.remaining <= 0) {
      this.rules.splice(index, 1);
    }
    return rule.fault;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake');
    let body: unknown = undefined;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const path = url.pathname + url.search;
    const record: RecordedRequest = { method: req.method ?? 'GET', path, headers: req.headers, body };
    this.requests.push(record);
    res.on('close', () => {
      record.closed = res.writableFinished ? 'finished' : 'aborted';
    });

    const isProbe = this.protocol.isProbe(req.method ?? 'GET', path);
    const intent = isProbe ? null : this.protocol.chatIntent(req.method ?? 'GET', path, body);
    const fault = this.takeFault(isProbe, intent?.model);

    if (fault?.kind === 'down') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'hang') {
      return;
    }
    if (fault?.kind === 'slow') {
      await sleep(fault.ms);
    }
    if (!this.protocol.authorize(req, this.apiKey)) {
      this.protocol.unauthorized(res);
      return;
    }
    if (fault?.kind === 'status') {
      const native = this.protocol.errorAnswer(fault.status);
      res.writeHead(fault.status, {
        'content-type': 'application/json',
        ...(fault.body === undefined ? native.headers : {}),
        ...fault.headers,
      });
      res.end(fault.body ?? native.body);
      return;
    }
    if (fault?.kind === 'rate_limit') {
      this.protocol.rateLimited(res, fault.retryAfterSeconds ?? 1);
      return;
    }
    if (isProbe) {
      this.protocol.answerProbe(res, path);
      return;
    }
    if (!intent) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(this.protocol.errorAnswer(404).body);
      return;
    }
    if (intent.stream) {
      const streamFault =
        fault?.kind === 'cut' || fault?.kind === 'stream_error' || fault?.kind === 'stall'
          ? fault
          : undefined;
      await this.protocol.streamChat(res, intent, streamFault);
      return;
    }
    this.protocol.answerChat(res, intent);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Writes an SSE frame, optionally named, with the given line ending. */
export function writeSse(
  res: ServerResponse,
  data: string,
  options: { event?: string; eol?: string } = {},
): void {
  const eol = options.eol ?? '\n';
  const head = options.event ? `event: ${options.event}${eol}` : '';
  res.write(`${head}data: ${data}${eol}${eol}`);
}

/** Ends a stream abruptly, as a provider that drops the connection mid-answer. */
export function cutConnection(res: ServerResponse): void {
  res.socket?.destroy();
}
