import { connect, type Socket } from 'node:net';
import type { TestApp } from './app.js';

/**
 * A bare TCP connection to the app, for what an HTTP client cannot express: half a body, headers that never end,
 * a malformed request line. Collects what the server sends and notes when it closes the connection.
 */
export interface RawClient {
  socket: Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** True once the server closed (or reset) the connection. */
  closed(): boolean;
  write(data: string): void;
  /** Closes our side (a test's clean-up). */
  destroy(): void;
}

export async function rawConnect(t: Pick<TestApp, 'url'>): Promise<RawClient> {
  const { hostname, port } = new URL(t.url);
  const socket = connect({ host: hostname, port: Number(port) });
  let data = '';
  let closed = false;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (data += chunk));
  socket.on('error', () => undefined); // a reset is one way the server may close
  socket.on('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    received: () => data,
    closed: () => closed,
    write: (chunk) => socket.write(chunk, 'latin1'),
    destroy: () => socket.destroy(),
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses one HTTP/1.1 response (status line, headers, body) as received on a raw connection. */
export function parseResponse(text: string): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) {
    throw new Error(`not an HTTP response: ${JSON.stringify(text.slice(0, 200))}`);
  }
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!match) {
    throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
  }
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(match[1]), headers, body: text.slice(end + 4) };
}
