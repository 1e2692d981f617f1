import { randomText } from './random-id.js';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { toErrorResponse } from './error-response.js';
import { ErrorCode, GatewayError } from './errors.js';

/** The error Node's HTTP server reports on a connection (`clientError`): a parse error or a timeout. */
interface ConnectionError extends Error {
  code?: string;
}

/** What Node refuses before Fastify sees a request, by Node's error code; anything else is a 400. */
const CONNECTION_ERRORS: Record<string, ErrorCode> = {
  ERR_HTTP_REQUEST_TIMEOUT: ErrorCode.RequestTimeout,
  HPE_HEADER_OVERFLOW: ErrorCode.HeaderFieldsTooLarge,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: ErrorCode.PayloadTooLarge,
};

/** The status a request in progress was answered with here (its body never came in time), for its log line. */
const answered = new WeakMap<ServerResponse, number>();

export function answeredOnConnection(response: ServerResponse): number | undefined {
  return answered.get(response);
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses (a malformed request line or header, headers over
 * `maxHeaderSize`) and requests not received in time (`headersTimeout`, `requestTimeout`) are answered like every
 * other error — the OpenAI envelope and an `x-request-id` — then the connection is closed (its bytes cannot be
 * trusted to frame another request).
 */
export function answerClientError(error: ConnectionError, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) {
    return; // the client is gone: nobody to answer
  }
  // A request whose headers were parsed has a response in progress (Node decides by it too): when it has started
  // (a stream), a second answer would corrupt it, and the connection is only closed.
  const inProgress = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
  if (socket.writable && !inProgress?.headersSent) {
    const requestId =
      (inProgress?.req as (IncomingMessage & { id?: string }) | undefined)?.id ??
      `req_${randomText(12, 'hex')}`;
    const code = (error.code && CONNECTION_ERRORS[error.code]) || ErrorCode.InvalidRequest;
    const message = code === ErrorCode.InvalidRequest ? 'The request is not valid HTTP/1.1.' : undefined;
    const response = toErrorResponse(new GatewayError(code, message), requestId);
    const body = JSON.stringify(response.body);
    socket.write(
      `HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ''}\r\n` +
        'content-type: application/json; charset=utf-8\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${requestId}\r\n` +
        'connection: close\r\n\r\n' +
        body,
    );
    if (inProgress) {
      answered.set(inProgress, response.status);
    }
  }
  socket.destroy(error);
}
