import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, signup, startApp, type TestApp } from '../support/app.js';

describe('errors in the OpenAI shape', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await startApp({ BODY_LIMIT_BYTES: '4096' });
    token = (await signup(t)).token;
  });
  afterAll(() => t.close());

  const expectEnvelope = (body: { error: Record<string, unknown> }) => {
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(typeof body.error.message).toBe('string');
  };

  it('malformed JSON → 400', async () => {
    const res = await call(t, 'POST', '/v1/keys', '{"name": "x",', token);
    expect(res.status).toBe(400);
    expectEnvelope(res.body);
    expect(res.body.error.type).toBe('invalid_request_error');
  });

  it('a content-type other than JSON → 415', async () => {
    const res = await call(t, 'POST', '/v1/keys', 'name=x', token, { 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
    expectEnvelope(res.body);
    const form = await call(t, 'POST', '/auth/login', 'email=a', undefined, {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(415);
  });

  it('a body over the limit → 413', async () => {
    const res = await call(t, 'POST', '/v1/keys', { name: 'x'.repeat(10_000), kind: 'live' }, token);
    expect(res.status).toBe(413);
    expectEnvelope(res.body);
  });

  it('a body over the limit sent in chunks, with no length declared → 413 once past the limit', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${t.url}/v1/keys`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      // chunked: 3 × 2,000 bytes against a 4,096-byte limit
      req.write(`{"kind":"live","name":"${'x'.repeat(1977)}`);
      req.write('x'.repeat(2000));
      req.end(`${'x'.repeat(1998)}"}`);
    });
    expect(answer.status).toBe(413);
    expectEnvelope(JSON.parse(answer.body) as { error: Record<string, unknown> });
  });

  it('unknown fields and unknown routes → 400 and 404, with x-request-id everywhere', async () => {
    const extra = await call(t, 'POST', '/v1/keys', { name: 'x', kind: 'live', admin: true }, token);
    expect(extra.status).toBe(400);
    expect(extra.body.error.param).toBe('admin');
    const missing = await call(t, 'GET', '/v1/nothing-here', undefined, token);
    expect(missing.status).toBe(404);
    expectEnvelope(missing.body);
    for (const res of [extra, missing]) {
      expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{24}$/);
    }
  });
});
