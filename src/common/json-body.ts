import type { IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify';
import sjson from 'secure-json-parse';

/** What a route sets (`@RouteConfig(RAW_BODY)`) to get its body's exact bytes as `request.rawBody` as well. */
export const RAW_BODY = { rawBody: true } as const;

export type RawBodyRequest = FastifyRequest & { rawBody?: Buffer };

/**
 * Replaces Fastify's JSON body parser with one that reads the body as it arrives. Fastify's own, behind Nest's
 * `useBodyParser`, joins every chunk into one Buffer at the end, then decodes it, then parses it: for a 9.5 MB
 * prompt, three fresh 9.5 MB allocations in a row, 30–50 ms each on this kind of machine (first-touch page faults,
 * not copying), during which every other request of the instance waited. Here each chunk is decoded when it comes
 * in, and what is left (joining the text, parsing it, scanning it for prototype keys) runs a step per turn of the
 * event loop. Fastify's own errors and limits are kept: 413 over the route's body limit (`BODY_LIMIT_BYTES`), 400
 * for a body shorter or longer than its `content-length`, an empty body, invalid JSON or a `__proto__` or
 * `constructor.prototype` key.
 */
export function registerJsonBodyParser(fastify: FastifyInstance): void {
  fastify.addContentTypeParser('application/json', (request: FastifyRequest, payload: IncomingMessage) =>
    readJsonBody(request, payload),
  );
}

export async function readJsonBody(request: RawBodyRequest, payload: IncomingMessage): Promise<unknown> {
  const limit = request.routeOptions.bodyLimit;
  const declared = Number(request.headers['content-length']);
  if (declared > limit) {
    throw new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
  }
  const keepRaw = (request.routeOptions.config as { rawBody?: boolean } | undefined)?.rawBody === true;
  const body = await receive(payload, limit, keepRaw);
  if (!Number.isNaN(declared) && body.bytes !== declared) {
    throw new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH();
  }
  if (body.raw) {
    request.rawBody = body.raw;
  }
  return parseJsonText(body.pieces, body.bytes > LARGE_BODY_BYTES);
}

interface Received {
  /** The body decoded as UTF-8, in the pieces it came in. */
  pieces: string[];
  bytes: number;
  raw?: Buffer;
}

/**
 * Reads `payload` to its end, decoding each chunk as it comes (a body in one chunk, most of them, is decoded once
 * at its end, without a decoder of its own); at most `limit` bytes.
 */
function receive(payload: IncomingMessage, limit: number, keepRaw: boolean): Promise<Received> {
  return new Promise((resolve, reject) => {
    let first: Buffer | undefined;
    let decoder: StringDecoder | undefined;
    const pieces: string[] = [];
    const chunks: Buffer[] = [];
    let bytes = 0;
    const decode = (into: StringDecoder, buffer: Buffer) => {
      const piece = into.write(buffer);
      if (piece.length > 0) {
        pieces.push(piece);
      }
    };
    const stop = () => {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onError);
    };
    const onData = (chunk: Buffer | string) => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      bytes += buffer.length;
      if (bytes > limit) {
        stop();
        reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
        return;
      }
      if (keepRaw) {
        chunks.push(buffer);
      }
      if (decoder === undefined) {
        if (first === undefined) {
          first = buffer;
          return;
        }
        decoder = new StringDecoder('utf8');
        decode(decoder, first);
        first = undefined;
      }
      decode(decoder, buffer);
    };
    const onEnd = () => {
      stop();
      if (decoder !== undefined) {
        const last = decoder.end();
        if (last.length > 0) {
          pieces.push(last);
        }
      } else if (first !== undefined && first.length > 0) {
        pieces.push(first.toString('utf8'));
      }
      resolve({ pieces, bytes, raw: keepRaw ? Buffer.concat(chunks, bytes) : undefined });
    };
    const onError = (error: Error & { statusCode?: number }) => {
      stop();
      // as Fastify's own reader: a body that broke off (the client went) is the client's error
      if (!(typeof error.statusCode === 'number' && error.statusCode >= 400)) {
        error.statusCode = 400;
      }
      reject(error);
    };
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.resume();
  });
}

/**
 * Parses a body's text, given in pieces, as Fastify's JSON parser does; a large one (`inSteps`) a step per turn of
 * the event loop: the joining of its pieces, the parsing, the scan for prototype keys.
 */
export async function parseJsonText(pieces: string[], inSteps: boolean): Promise<unknown> {
  let text: string;
  if (pieces.length === 0) {
    throw new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY();
  } else if (pieces.length === 1) {
    text = pieces[0];
  } else {
    if (inSteps) {
      await nextTurn();
    }
    text = pieces.join('');
  }
  if (inSteps) {
    await nextTurn();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY();
  }
  if (inSteps) {
    await nextTurn();
  }
  try {
    return parsed !== null && typeof parsed === 'object'
      ? sjson.scan(parsed, { protoAction: 'error', constructorAction: 'error' })
      : parsed;
  } catch {
    throw new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY();
  }
}

/** Bodies above this are parsed in steps (below it, each step takes well under a millisecond). */
const LARGE_BODY_BYTES = 256 * 1024;
