import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { parseResponse, rawConnect } from '../support/raw.js';
import { waitFor } from '../support/wait.js';

/** What Node's HTTP parser refuses before any route runs still answers in the OpenAI shape, and closes. */
describe('errors of the HTTP parser', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(() => t?.close());

  async function exchange(bytes: string) {
    const client = await rawConnect(t);
    try {
      client.write(bytes);
      await waitFor(client.closed, 5_000, 'the server to close the connection');
      return parseResponse(client.received());
    } finally {
      client.destroy();
    }
  }

  function expectEnvelope(res: ReturnType<typeof parseResponse>, status: number, code: string | null) {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['connection']).toBe('close');
    expect(res.headers['x-request-id']).toMatch(/^req_[0-9a-f]{24}$/);
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body));
    const body = JSON.parse(res.body);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(body.error).toMatchObject({ type: 'invalid_request_error', param: null, code });
    expect(body.error.message).toEqual(expect.any(String));
  }

  it('a request line of garbage → 400', async () => {
    expectEnvelope(await exchange('THIS IS NOT HTTP\r\n\r\n'), 400, null);
  });

  it('headers larger than the limit (maxHeaderSize, 16 KiB) → 431', async () => {
    const res = await exchange(
      `GET /health/live HTTP/1.1\r\nhost: gateway\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expectEnvelope(res, 431, 'request_header_fields_too_large');
  });

  it('a malformed header → 400', async () => {
    expectEnvelope(
      await exchange('GET /health/live HTTP/1.1\r\nhost: gateway\r\nbad header\r\n\r\n'),
      400,
      null,
    );
  });
});
