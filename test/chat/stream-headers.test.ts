import { beforeAll, describe, expect, it } from 'vitest';
import { createKey, signup, type TestApp } from '../support/app.js';
import { useGateway } from '../support/gateway.js';

describe('headers on a streamed answer', () => {
  const g = useGateway({ resetFakes: false });
  let t: TestApp;
  beforeAll(() => {
    ({ t } = g);
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
      const limit = t.config.rateLimit.perPlan.free;
      expect(res.headers.get('x-ratelimit-limit-requests')).toBe(String(limit));
      expect(res.headers.get('x-ratelimit-remaining-requests')).toBe(String(limit - 1));
      expect(res.headers.get('x-conflux-model')).toBe('gpt-6-luna');
      expect(res.headers.get('x-conflux-provider')).toBe('openai');
    }
  });
});
