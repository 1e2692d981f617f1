import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, signup, startApp, type TestApp } from '../support/app.js';

// One app per file: nestjs-pino's root logger is process-wide, so log capture needs its own process.
describe('observability', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(() => t.close());

  it('answers liveness and readiness (database reachable)', async () => {
    expect((await call(t, 'GET', '/health/live')).body).toEqual({ status: 'ok' });
    const ready = await call(t, 'GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.info.database.status).toBe('up');
  });

  it('exposes Prometheus request counts and latency by route and status', async () => {
    await call(t, 'GET', '/v1/keys');
    const res = await fetch(`${t.url}/metrics`);
    const text = await res.text();
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(text).toMatch(/conflux_http_requests_total\{route="\/v1\/keys",method="GET",status="401"\} \d+/);
    expect(text).toContain('conflux_http_request_duration_seconds_bucket');
  });

  it('logs JSON lines without authorization headers or bodies', async () => {
    const { token } = await signup(t, 'logged@example.com');
    await call(t, 'GET', '/v1/keys', undefined, token);
    await vi.waitFor(() => expect(t.logs()).toContain('"route":"/v1/keys"'));
    const lines = t.logs().trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(() => JSON.parse(line)).not.toThrow();
    }
    expect(t.logs()).not.toContain(token);
    expect(t.logs()).not.toContain('a-long-password');
    expect(t.logs()).not.toContain('logged@example.com');
  });
});
