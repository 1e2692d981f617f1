import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream';
import { Agent, request } from 'undici';

/**
 * The reference the gateway is compared with: the least a Node.js HTTP proxy can do. node:http in front,
 * undici behind (keep-alive, up to 4096 connections), method, path, headers and body forwarded as they are and
 * the answer piped back; nothing parsed. `GET /health/ready` is answered here so the rig can time the start.
 *
 * Started by bench/run.ts as `UPSTREAM_URL=http://127.0.0.1:N node dist/bench/bare-proxy.js`; listens on
 * 127.0.0.1:$PORT.
 */

const upstream = process.env.UPSTREAM_URL;
if (!upstream) {
  process.stderr.write('UPSTREAM_URL is required\n');
  process.exit(1);
}
const agent = new Agent({ connections: 4096, pipelining: 1, keepAliveTimeout: 60_000 });
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
]);

function forwardable(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>) {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name)) {
      out[name] = value;
    }
  }
  return out;
}

const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  if (req.url === '/health/ready') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
    return;
  }
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) {
      abort.abort();
    }
  });
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  request(upstream + (req.url ?? '/'), {
    method: req.method as 'GET',
    headers: forwardable(req.headers),
    body: hasBody ? req : undefined,
    dispatcher: agent,
    signal: abort.signal,
  }).then(
    (answer) => {
      res.writeHead(answer.statusCode, forwardable(answer.headers) as OutgoingHttpHeaders);
      pipeline(answer.body, res, () => undefined);
    },
    () => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
      }
      res.end('{"error":{"message":"bad gateway","type":"server_error","param":null,"code":null}}');
    },
  );
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
  void agent.close();
  process.exit(0);
});
