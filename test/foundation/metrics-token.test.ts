import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';

const TOKEN = 'metrics-scraper-token-0123456789';

function scrape(t: TestApp, authorization?: string): Promise<Response> {
  return fetch(`${t.url}/metrics`, { headers: authorization ? { authorization } : {} });
}

// The app whose logs are read is the first one started in this file (nestjs-pino's root logger is process-wide).
describe('/metrics without METRICS_TOKEN in production', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ NODE_ENV: 'production' });
  });
  afterAll(() => t?.close());

  it('stays open, and the start-up log warns that it is', async () => {
    const res = await scrape(t);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('conflux_http_requests_total');
    await waitFor(() => t.logs().includes('METRICS_TOKEN'), 5_000, 'the warning');
    const warning = t
      .logs()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .find((line) => line.msg.includes('METRICS_TOKEN'));
    expect(warning?.level).toBe(40); // pino's warn
    expect(warning?.msg).toMatch(/\/metrics is open/);
  });
});

describe('/metrics with METRICS_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ METRICS_TOKEN: TOKEN, NODE_ENV: 'production' });
  });
  afterAll(() => t?.close());

  it.each([
    ['no authorization', undefined],
    ['a wrong token', 'Bearer not-the-metrics-token'],
    ['a prefix of the token', `Bearer ${TOKEN.slice(0, -1)}`],
    ['the token without the scheme', TOKEN],
    ['another scheme', `Basic ${TOKEN}`],
  ])('%s → 401 in the OpenAI shape', async (_, authorization) => {
    const res = await scrape(t, authorization);
    expect(res.status).toBe(401);
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    const body = (await res.json()) as { error: Record<string, unknown> };
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(body.error.type).toBe('invalid_request_error');
    expect(JSON.stringify(body)).not.toContain(TOKEN);
  });

  it('the right bearer token → the metrics', async () => {
    const res = await scrape(t, `Bearer ${TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(await res.text()).toContain('conflux_http_requests_total');
    expect((await scrape(t, `bearer   ${TOKEN}`)).status).toBe(200);
  });

  it('health checks stay open', async () => {
    expect((await fetch(`${t.url}/health/live`)).status).toBe(200);
    expect((await fetch(`${t.url}/health/ready`)).status).toBe(200);
  });
});
