import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { dashboardDir } from '../../src/dashboard/dashboard.js';
import { createKey, signup, startApp, type TestApp } from '../support/app.js';

/** Issue 12, item 9: what a browser (or a person) gets at the root, and CORS for browser clients on /v1/*. */
describe('browsers: the root and CORS', () => {
  let t: TestApp;
  let key: string;
  beforeAll(async () => {
    t = await startApp();
    key = (await createKey(t, (await signup(t)).token, 'test')).key;
  });
  afterAll(() => t.close());

  it('GET / is the dashboard (or, before `npm run build`, a page saying so), which links the API reference', async () => {
    const res = await fetch(`${t.url}/`);
    expect(res.status).toBe(existsSync(join(dashboardDir(), 'index.html')) ? 200 : 503);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('href="/docs"');
  });

  it('answers a preflight on /v1/* with 204, allowing Authorization and Content-Type from any origin', async () => {
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,x-stainless-os',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    const allowed = res.headers.get('access-control-allow-headers')!.toLowerCase();
    expect(allowed).toContain('authorization');
    expect(allowed).toContain('content-type');
    expect(allowed).toContain('x-stainless-os');
    expect(res.headers.get('access-control-max-age')).toBe('600');
  });

  it('lets a page read the gateway headers of an answer, errors included', async () => {
    const ok = await fetch(`${t.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        origin: 'https://app.example.com',
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ model: 'gpt-6-luna', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('*');
    const exposed = ok.headers.get('access-control-expose-headers')!.split(/,\s*/);
    for (const header of [
      'x-request-id',
      'x-conflux-provider',
      'x-conflux-cost-credits',
      'x-ratelimit-remaining-requests',
    ]) {
      expect(exposed).toContain(header);
    }
    // Refused before routing (415 from an onRequest hook): a page can read that error too.
    const notJson = await fetch(`${t.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        origin: 'https://app.example.com',
        authorization: `Bearer ${key}`,
        'content-type': 'text/plain',
      },
      body: 'hi',
    });
    expect(notJson.status).toBe(415);
    expect(notJson.headers.get('access-control-allow-origin')).toBe('*');
    const unauthorized = await fetch(`${t.url}/v1/models`, {
      headers: { origin: 'https://app.example.com' },
    });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('gives no CORS headers outside /v1/*', async () => {
    const res = await fetch(`${t.url}/health/live`, { headers: { origin: 'https://app.example.com' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${t.url}/auth/login`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('CORS_ALLOWED_ORIGINS: a list allows only its origins; a bad entry stops the start naming the variable', async () => {
    const only = await startApp({ CORS_ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:5173' });
    try {
      const allowed = await fetch(`${only.url}/v1/models`, {
        method: 'OPTIONS',
        headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'GET' },
      });
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
      expect(allowed.headers.get('vary')).toContain('Origin');
      const other = await fetch(`${only.url}/v1/models`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'GET' },
      });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await only.close();
    }
    expect(loadConfig({}).corsOrigins).toBe('*');
    expect(loadConfig({ CORS_ALLOWED_ORIGINS: 'https://App.example.com:443/' }).corsOrigins).toEqual([
      'https://app.example.com',
    ]);
    for (const bad of ['app.example.com', 'https://app.example.com/path', 'ftp://x.example.com']) {
      expect(() => loadConfig({ CORS_ALLOWED_ORIGINS: bad }), bad).toThrow(/CORS_ALLOWED_ORIGINS/);
    }
  });
});
