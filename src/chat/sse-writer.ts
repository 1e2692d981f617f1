import type { ServerResponse } from 'node:http';
import type { OpenAiErrorBody } from '../common/errors.js';

/**
 * The one place SSE frames are written: `data: <json>\n\n` per chunk, `data: [DONE]\n\n` at the end, or a
 * `data: {"error":…}` frame (and no [DONE]) when the stream breaks after its first byte; named events
 * (`event: usage`) for the usage stream.
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

  /** What the client has not taken yet (bytes queued in this process): a slow reader grows it. */
  get bufferedBytes(): number {
    return this.raw.writableLength;
  }

  /** A named event (`event: <name>`), for streams that are not completions (the usage stream). */
  event(name: string, payload: unknown): void {
    if (!this.clientGone) {
      this.raw.write(`event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`);
    }
  }

  /** Ends the stream, with a last named event when given. */
  close(last?: { name: string; payload: unknown }): void {
    if (!this.clientGone) {
      this.raw.end(last ? `event: ${last.name}\ndata: ${JSON.stringify(last.payload)}\n\n` : undefined);
    }
  }

  /** Drops the connection without a last frame (a client that does not read). */
  destroy(): void {
    this.raw.destroy();
  }

  fail(error: OpenAiErrorBody): void {
    if (!this.clientGone) {
      this.raw.end(`data: ${JSON.stringify(error)}\n\n`);
    }
  }
}
