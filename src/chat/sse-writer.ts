import type { ServerResponse } from 'node:http';
import type { OpenAiErrorBody } from '../common/errors.js';

/**
 * The one place SSE frames are written: `data: <json>\n\n` per chunk, `data: [DONE]\n\n` at the end, or a
 * `data: {"error":…}` frame (and no [DONE]) when the stream breaks after its first byte.
 */
export class SseWriter {
  private opened = false;

  constructor(private readonly raw: ServerResponse) {}

  get isOpen(): boolean {
    return this.opened;
  }

  /** True when the client went away. */
  get clientGone(): boolean {
    return this.raw.destroyed || this.raw.writableEnded;
  }

  open(headers: Record<string, string>): void {
    this.raw.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.opened = true;
  }

  send(payload: unknown): void {
    if (!this.clientGone) {
      this.raw.write(`data: ${JSON.stringify(payload)}\n\n`);
    }
  }

  done(): void {
    if (!this.clientGone) {
      this.raw.end('data: [DONE]\n\n');
    }
  }

  fail(error: OpenAiErrorBody): void {
    if (!this.clientGone) {
      this.raw.end(`data: ${JSON.stringify(error)}\n\n`);
    }
  }
}
