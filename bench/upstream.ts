import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/**
 * The bench's fake OpenAI upstream: a bare node:http server speaking the Chat Completions wire format, built to
 * cost as little CPU as possible so that it is never the bottleneck (the rig measures it directly too).
 *
 * - `POST …/chat/completions`: a `chat.completion` with `usage`, or with `"stream": true` the
 *   `chat.completion.chunk` frames (`data: {…}\n\n`), the finish chunk, the usage chunk when
 *   `stream_options.include_usage` is set, and `data: [DONE]\n\n`. The body is not JSON-parsed: `stream`,
 *   `include_usage` and `model` are picked out with regular expressions.
 * - `GET …/models`: the model list (the gateway's health probe).
 * - `GET /health/ready`: 200, for the rig.
 * - `POST /__bench/mode`: sets `{ delayMs, streamChunks, streamIntervalMs }` for the requests that follow.
 *   `streamIntervalMs: 0` writes a whole stream at once; otherwise the role frame and the first content frame
 *   are written at once and one content frame follows every `streamIntervalMs` ("slow stream").
 *
 * Started by bench/run.ts as `node dist/bench/upstream.js`; listens on 127.0.0.1:$PORT (0: any free port) and
 * prints `{"port":N}` on stdout.
 */

interface Mode {
  /** Wait before answering (before the first stream frame). */
  delayMs: number;
  /** Content frames per stream (and completion tokens of every answer). */
  streamChunks: number;
  /** 0: the whole stream in one write; else one content frame every so many ms. */
  streamIntervalMs: number;
}

const mode: Mode = { delayMs: 0, streamChunks: 16, streamIntervalMs: 0 };
const CREATED = Math.floor(Date.now() / 1000);
const PROMPT_TOKENS = 9;
const STREAM_RE = /"stream"\s*:\s*true/;
const INCLUDE_USAGE_RE = /"include_usage"\s*:\s*true/;
const MODEL_RE = /"model"\s*:\s*"([^"\\]{1,128})"/;
const MODELS_BODY = JSON.stringify({
  object: 'list',
  data: ['gpt-6.2-astra', 'gpt-6.2-sol', 'gpt-6.1-terra', 'gpt-6-luna'].map((id) => ({
    id,
    object: 'model',
    created: CREATED,
    owned_by: 'openai',
  })),
});
let sequence = 0;

function piece(index: number): string {
  return index === 0 ? 'Hello' : ` word${index}`;
}

function usage(completion: number): string {
  return (
    `{"prompt_tokens":${PROMPT_TOKENS},"completion_tokens":${completion},"total_tokens":${PROMPT_TOKENS + completion},` +
    `"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}`
  );
}

function completion(id: string, model: string): string {
  let content = '';
  for (let i = 0; i < mode.streamChunks; i += 1) {
    content += piece(i);
  }
  return (
    `{"id":"${id}","object":"chat.completion","created":${CREATED},"model":"${model}","choices":[{"index":0,` +
    `"message":{"role":"assistant","content":"${content}","refusal":null},"logprobs":null,"finish_reason":"stop"}],` +
    `"usage":${usage(mode.streamChunks)},"system_fingerprint":"fp_bench"}`
  );
}

/** The frames of one stream: [role + first content, …content, finish + usage + DONE]. */
function frames(id: string, model: string, includeUsage: boolean): string[] {
  const head = `data: {"id":"${id}","object":"chat.completion.chunk","created":${CREATED},"model":"${model}","system_fingerprint":"fp_bench","choices":`;
  const tail = includeUsage ? `,"usage":null}\n\n` : `}\n\n`;
  const delta = (value: string, finish: string | null) =>
    `${head}[{"index":0,"delta":${value},"logprobs":null,"finish_reason":${finish === null ? 'null' : `"${finish}"`}}]${tail}`;
  const out: string[] = [];
  const count = Math.max(1, mode.streamChunks);
  for (let i = 0; i < count; i += 1) {
    out.push(delta(`{"content":"${piece(i)}"}`, null));
  }
  out[0] = delta('{"role":"assistant","content":""}', null) + out[0];
  let last = delta('{}', 'stop');
  if (includeUsage) {
    last += `${head}[],"usage":${usage(count)}}\n\n`;
  }
  out.push(`${last}data: [DONE]\n\n`);
  return out;
}

function answerChat(req: IncomingMessage, res: ServerResponse, body: string): void {
  if (!req.headers.authorization?.startsWith('Bearer ')) {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(
      '{"error":{"message":"Missing bearer key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}',
    );
    return;
  }
  sequence += 1;
  const id = `chatcmpl-bench${sequence}`;
  const model = MODEL_RE.exec(body)?.[1] ?? 'gpt-6-luna';
  if (!STREAM_RE.test(body)) {
    const text = completion(id, model);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'x-request-id': `req_bench${sequence}`,
    });
    res.end(text);
    return;
  }
  const parts = frames(id, model, INCLUDE_USAGE_RE.test(body));
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-request-id': `req_bench${sequence}`,
  });
  if (mode.streamIntervalMs <= 0) {
    res.end(parts.join(''));
    return;
  }
  if (parts.length === 2) {
    res.end(parts.join(''));
    return;
  }
  // Role and first content at once, then one content frame per interval; the finish frame (with usage and
  // [DONE]) goes with the last content frame.
  res.write(parts[0]);
  let next = 1;
  const timer = setInterval(() => {
    res.write(parts[next]);
    next += 1;
    if (next === parts.length - 1) {
      clearInterval(timer);
      res.end(parts[next]);
    }
  }, mode.streamIntervalMs);
  res.on('close', () => clearInterval(timer));
}

const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  const url = req.url ?? '/';
  if (req.method === 'GET') {
    if (url.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(MODELS_BODY);
    } else if (url === '/health/ready') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
    } else {
      res.writeHead(404);
      res.end();
    }
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = chunks.length === 1 ? chunks[0].toString() : Buffer.concat(chunks).toString();
    if (req.method === 'POST' && url === '/__bench/mode') {
      Object.assign(mode, JSON.parse(body) as Partial<Mode>);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(mode));
      return;
    }
    if (req.method !== 'POST' || !url.endsWith('/chat/completions')) {
      res.writeHead(404);
      res.end();
      return;
    }
    if (mode.delayMs > 0) {
      setTimeout(() => answerChat(req, res, body), mode.delayMs);
    } else {
      answerChat(req, res, body);
    }
  });
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.maxRequestsPerSocket = 0;

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`,
  );
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
