import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakes, type Fakes } from '../fakes/index.js';
import { createKey, signup, startApp, type TestApp } from '../support/app.js';

describe('headers on a streamed answer', () => {
  let fakes: Fakes;
  let t: TestApp;
  beforeAll(async () => {
    fakes = await startFakes();
    t = await startApp(fakes.env);
  });
  afterAll(async () => {
    await t?.close();
    await fakes?.close();
  });

  it('carries the request id, the rate-limit headers and what served it, like a JSON answer', async () => {
    const { token } = await signup(t);
    for (const kind of ['live', 'test'] as const) {
      const { key } = await createKey(t, token, kind);
      const res = await fetch(`${t.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'gpt-6-luna',
          messages: [{ role: 'user', content: 'hi' }],
          stream: true,
        }),
      });
      await res.text();
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      expect(res.headers.get('x-request-id')).toMatch(/^req_/);
      expect(res.headers.get('x-ratelimit-limit-requests')).toBe('60');
      expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('59');
      expect(res.headers.get('x-conflux-model')).toBe('gpt-6-luna');
      expect(res.headers.get('x-conflux-provider')).toBe('openai');
    }
  });
});
