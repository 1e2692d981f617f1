import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../../src/ops/lifecycle.service.js';
import { call } from '../support/app.js';
import { liveAccount, money, postChat, usageEvents } from '../support/billing.js';
import { startGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';

const STREAM = {
  model: 'gpt-6-luna',
  messages: [{ role: 'user', content: 'one two three four five' }],
  max_tokens: 40,
  stream: true,
};

describe('draining on a stop signal', () => {
  it('refuses new work and says so in readiness, lets a stream in flight finish, and bills it', async () => {
    const g = await startGateway({ env: { SHUTDOWN_GRACE_MS: '30000' } });
    try {
      const { accountId, key } = await liveAccount(g.t);
      g.fakes.openai.addFault({ kind: 'slow', ms: 600 });
      const streaming = postChat(g.t, key, STREAM).then((res) => res.text());
      await waitFor(
        () => g.fakes.openai.requests.some((r) => r.path.endsWith('/chat/completions')),
        5_000,
        'the stream at the provider',
      );
      const draining = g.t.app.get(Lifecycle).drain();

      const ready = await call(g.t, 'GET', '/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.error?.instance ?? ready.body.details?.instance).toMatchObject({ state: 'draining' });
      const refused = await call(g.t, 'POST', '/v1/chat/completions', { ...STREAM, stream: false }, key);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');

      const text = await streaming;
      expect(text).toContain('data: [DONE]');
      await draining;
      const [event] = await usageEvents(g.t, accountId);
      expect(event).toMatchObject({ status: 'completed', completion_tokens: 40 });
      const m = await money(g.t, accountId);
      expect(m.ledger).toBe(m.balance);
    } finally {
      await g.close();
    }
  });

  it('past the grace, ends a stream still running with an error frame and bills what it delivered', async () => {
    const g = await startGateway({ env: { SHUTDOWN_GRACE_MS: '300' } });
    try {
      const { accountId, key } = await liveAccount(g.t);
      g.fakes.openai.addFault({ kind: 'stall', afterChunks: 5 });
      const res = await postChat(g.t, key, STREAM);
      const reader = res.body!.getReader();
      await reader.read(); // the stream has started
      await g.t.app.get(Lifecycle).drain();
      let text = '';
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        text += new TextDecoder().decode(chunk.value);
      }
      expect(text).toContain('shutting down');
      expect(text).not.toContain('[DONE]');
      const [event] = await usageEvents(g.t, accountId);
      expect(event).toMatchObject({ status: 'cut', completion_tokens: 5, estimated: true });
      const m = await money(g.t, accountId);
      expect(m.balance).toBeLessThan(500_000_000n);
      expect(m.ledger).toBe(m.balance);
    } finally {
      await g.close();
    }
  });
});
