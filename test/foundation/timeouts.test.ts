import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { startApp, type TestApp } from '../support/app.js';
import { useGateway } from '../support/gateway.js';
import { parseResponse, rawConnect, type RawClient } from '../support/raw.js';
import { waitFor } from '../support/wait.js';

const REQUEST_TIMEOUT_MS = 600;
const HEADERS_TIMEOUT_MS = 300;
/** Generous next to the timeouts: what is asserted is that the connection closes at all, and soon. */
const WITHIN = 4_000;

function expectOpenAi408(client: RawClient): void {
  const res = parseResponse(client.received());
  expect(res.status).toBe(408);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['connection']).toBe('close');
  expect(res.headers['x-request-id']).toMatch(/^req_[0-9a-f]{24}$/);
  const body = JSON.parse(res.body);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'request_timeout', param: null });
}

describe('slow clients are cut, slow answers are not', () => {
  const g = useGateway({
    env: { REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS) },
  });
  const clients: RawClient[] = [];
  afterAll(() => clients.forEach((c) => c.destroy()));

  it('headers and 10 bytes of a 1000-byte body: closed within the request timeout, with an OpenAI 408', async () => {
    const client = await rawConnect(g.t);
    clients.push(client);
    client.write(
      'POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\n' +
        `authorization: Bearer ${g.liveKey}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n` +
        '{"model":"',
    );
    await waitFor(client.closed, WITHIN, 'the server to close the connection');
    expectOpenAi408(client);
    expect(g.fakes.openai.chatRequests()).toHaveLength(0);
    // the request had reached the app: it is logged and counted once, as the 408 it got, and is no error of ours
    const requestId = parseResponse(client.received()).headers['x-request-id'];
    await waitFor(() => g.t.logs().includes(`"requestId":"${requestId}"`), 5_000, 'the http line');
    const lines = g.t
      .logs()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { requestId?: string; context?: string; status?: number })
      .filter((line) => line.requestId === requestId);
    expect(lines).toEqual([expect.objectContaining({ context: 'http', status: 408 })]);
    const metrics = await (await fetch(`${g.t.url}/metrics`)).text();
    expect(metrics).toContain(
      'conflux_http_requests_total{route="/v1/chat/completions",method="POST",status="408"} 1\n',
    );
  });

  it('headers that never end: closed within the headers timeout, with an OpenAI 408', async () => {
    const client = await rawConnect(g.t);
    clients.push(client);
    client.write('POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\ncontent-type: applic');
    await waitFor(client.closed, WITHIN, 'the server to close the connection');
    expectOpenAi408(client);
  });

  it('a stream that lasts longer than the request timeout is not cut', async () => {
    g.fakes.openai.addFault({ kind: 'slow', ms: REQUEST_TIMEOUT_MS * 3 });
    const stream = await g.live.chat.completions.create({
      model: 'gpt-6-luna',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 3,
      stream: true,
    });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe('Hello hello hello');
    expect(finish).toBe('stop');
  });

  it('a non-streaming answer that takes longer than the request timeout is not cut', async () => {
    g.fakes.openai.addFault({ kind: 'slow', ms: REQUEST_TIMEOUT_MS * 3 });
    const answer = await g.live.chat.completions.create({
      model: 'gpt-6-luna',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 2,
    });
    expect(answer.choices[0].message.content).toBe('Hello hello');
  });
});

describe('idle keep-alive connections', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ KEEP_ALIVE_TIMEOUT_MS: '300' });
  });
  afterAll(() => t?.close());

  it('are closed after KEEP_ALIVE_TIMEOUT_MS', async () => {
    const client = await rawConnect(t);
    try {
      client.write('GET /health/live HTTP/1.1\r\nhost: gateway\r\n\r\n');
      await waitFor(() => client.received().includes('{"status":"ok"}'), WITHIN, 'the answer');
      expect(parseResponse(client.received()).headers['connection']).toBe('keep-alive');
      await waitFor(client.closed, WITHIN, 'the idle connection to be closed');
    } finally {
      client.destroy();
    }
  });
});

describe('timeouts are validated at start', () => {
  it('has defaults, and refuses a headers timeout longer than the request timeout', () => {
    expect(loadConfig({}).http).toMatchObject({
      requestTimeoutMs: 60_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 72_000,
    });
    expect(() => loadConfig({ REQUEST_TIMEOUT_MS: 'soon' })).toThrow(/REQUEST_TIMEOUT_MS/);
    expect(() => loadConfig({ HEADERS_TIMEOUT_MS: '0' })).toThrow(/HEADERS_TIMEOUT_MS/);
    expect(() => loadConfig({ KEEP_ALIVE_TIMEOUT_MS: '-5' })).toThrow(/KEEP_ALIVE_TIMEOUT_MS/);
    expect(() => loadConfig({ REQUEST_TIMEOUT_MS: '5000', HEADERS_TIMEOUT_MS: '6000' })).toThrow(
      /HEADERS_TIMEOUT_MS.*REQUEST_TIMEOUT_MS/,
    );
  });
});
