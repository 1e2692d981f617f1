import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseJsonText, readJsonBody, type RawBodyRequest } from './json-body.js';

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'parsed',
    (error: { code?: string; statusCode?: number }) => error.code ?? `status ${error.statusCode}`,
  );

/** What the reader uses of a Fastify request: the route's limit and config, and the headers. */
function requestFor(headers: Record<string, string>, bodyLimit: number, rawBody = false): RawBodyRequest {
  return {
    headers,
    routeOptions: { bodyLimit, config: rawBody ? { rawBody } : {} },
  } as unknown as RawBodyRequest;
}

/** Sends `chunks` through a stream, each in its own turn, as a socket would deliver them. */
function streamOf(chunks: Buffer[], fail?: Error): IncomingMessage {
  const stream = new PassThrough();
  void (async () => {
    for (const chunk of chunks) {
      await new Promise((resolve) => setImmediate(resolve));
      stream.write(chunk);
    }
    await new Promise((resolve) => setImmediate(resolve));
    if (fail) {
      stream.destroy(fail);
    } else {
      stream.end();
    }
  })();
  return stream as unknown as IncomingMessage;
}

/** `bytes` cut every `size` bytes, wherever that falls (inside a multi-byte character too). */
function cut(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    chunks.push(bytes.subarray(i, i + size));
  }
  return chunks;
}

describe('reading a JSON body as it arrives', () => {
  it('decodes characters cut across chunks, at every cut', async () => {
    const body = { name: 'naïve ☃ 𝄞 key — ключ', kind: 'live' };
    const bytes = Buffer.from(JSON.stringify(body));
    for (const size of [1, 2, 3, 5, 7, bytes.length]) {
      const request = requestFor({ 'content-length': String(bytes.length) }, 4096);
      expect(await readJsonBody(request, streamOf(cut(bytes, size)))).toEqual(body);
      expect(request.rawBody).toBeUndefined(); // kept only for a route that asks
    }
  });

  it('keeps the exact bytes for a route that asks (the Stripe webhook)', async () => {
    const bytes = Buffer.from('{"id":"evt_1","data":{"object":{"name":"é"}}}');
    const request = requestFor({ 'content-length': String(bytes.length) }, 4096, true);
    await readJsonBody(request, streamOf(cut(bytes, 4)));
    expect(request.rawBody?.equals(bytes)).toBe(true);
  });

  it("answers Fastify's errors: over the limit (declared or sent), a length other than declared, a body cut off", async () => {
    const bytes = Buffer.from(JSON.stringify({ name: 'x'.repeat(5000) }));
    // declared over the limit: refused before reading
    expect(await codeOf(readJsonBody(requestFor({ 'content-length': '5000' }, 4096), streamOf([])))).toBe(
      'FST_ERR_CTP_BODY_TOO_LARGE',
    );
    // sent chunked (no length declared), refused once past the limit
    expect(await codeOf(readJsonBody(requestFor({}, 4096), streamOf(cut(bytes, 1000))))).toBe(
      'FST_ERR_CTP_BODY_TOO_LARGE',
    );
    expect(
      await codeOf(readJsonBody(requestFor({ 'content-length': '10' }, 4096), streamOf([Buffer.from('{}')]))),
    ).toBe('FST_ERR_CTP_INVALID_CONTENT_LENGTH');
    expect(
      await codeOf(
        readJsonBody(requestFor({}, 4096), streamOf([Buffer.from('{"a":')], new Error('aborted'))),
      ),
    ).toBe('status 400');
  });
});

describe('parsing a JSON body', () => {
  it('parses small and large bodies alike, a large one across turns of the event loop', async () => {
    const body = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'é'.repeat(300_000) }] };
    const text = JSON.stringify(body);
    let turns = 0;
    const ticking = setInterval(() => turns++, 0);
    try {
      expect(await parseJsonText([text.slice(0, 1000), text.slice(1000)], true)).toEqual(body);
    } finally {
      clearInterval(ticking);
    }
    expect(turns).toBeGreaterThan(0); // other work ran while it was parsed
    expect(await parseJsonText(['{"a":[1,null,"x"]}'], false)).toEqual({ a: [1, null, 'x'] });
  });

  it("answers Fastify's errors for an empty body, invalid JSON and prototype keys, at any size", async () => {
    expect(await codeOf(parseJsonText([], false))).toBe('FST_ERR_CTP_EMPTY_JSON_BODY');
    expect(await codeOf(parseJsonText(['{"a":'], false))).toBe('FST_ERR_CTP_INVALID_JSON_BODY');
    const poisoned = `{"messages":[{"content":"${'x'.repeat(300_000)}","__proto__":{"admin":true}}]}`;
    expect(await codeOf(parseJsonText([poisoned], true))).toBe('FST_ERR_CTP_INVALID_JSON_BODY');
    expect(await codeOf(parseJsonText(['{"constructor":{"prototype":{"x":1}}}'], false))).toBe(
      'FST_ERR_CTP_INVALID_JSON_BODY',
    );
  });
});
