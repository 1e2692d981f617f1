import { afterAll, describe, expect, it } from 'vitest';
import { call, startApp, type TestApp } from '../support/app.js';
import { client, gatewayEnv, useGateway } from '../support/gateway.js';
import { ask, refreshSnapshot } from '../routing/support.js';
import { ADMIN_ENV, staffSessions } from './support.js';

/** A second instance needs a database it shares with the first. */
const SHARED = Boolean(process.env.DATABASE_URL);

describe('provider drain', () => {
  const g = useGateway({ env: { ...ADMIN_ENV, HEALTH_PROBE_INTERVAL_MS: '600000' } });
  let second: TestApp | undefined;
  afterAll(async () => {
    await second?.close();
  });

  it('a drained provider gets no traffic while its model is served by the other provider; restored, it serves again', async () => {
    const { admin, support } = await staffSessions(g.t);
    expect((await ask(g.live, 'openai/gpt-oss-120b')).provider).toBe('groq');
    if (SHARED) {
      second = await startApp(gatewayEnv(g.fakes, { HEALTH_PROBE_INTERVAL_MS: '600000' }), {
        shareDatabaseWith: g.t,
      });
    }

    const refused = await call(
      g.t,
      'POST',
      '/admin/providers/groq/drain',
      { reason: 'incident 12' },
      support,
    );
    expect(refused.status).toBe(403);
    const drained = await call(g.t, 'POST', '/admin/providers/groq/drain', { reason: 'incident 12' }, admin);
    expect(drained.status).toBe(200);
    expect(drained.body).toMatchObject({ id: 'groq', drained: true, drain_reason: 'incident 12' });
    g.fakes.reset();
    for (let i = 0; i < 5; i++) {
      const res = await ask(g.live, 'openai/gpt-oss-120b');
      expect(res.provider).toBe('cerebras');
      expect(res.attempts).toBe(1);
    }
    expect(g.fakes.groq.chatRequests()).toHaveLength(0);
    const list = await call(g.t, 'GET', '/admin/providers', undefined, support);
    expect(list.body.data.find((p: { id: string }) => p.id === 'groq').drained).toBe(true);

    if (second) {
      // Every instance re-reads the drains with its health snapshot (every few seconds), at once with Redis.
      await refreshSnapshot(second);
      const other = client(second, g.liveKey);
      expect((await ask(other, 'openai/gpt-oss-120b')).provider).toBe('cerebras');
      expect(g.fakes.groq.chatRequests()).toHaveLength(0);
    }

    const restored = await call(
      g.t,
      'POST',
      '/admin/providers/groq/restore',
      { reason: 'incident 12 over' },
      admin,
    );
    expect(restored.body.drained).toBe(false);
    expect((await ask(g.live, 'openai/gpt-oss-120b')).provider).toBe('groq');
    const audit = await call(g.t, 'GET', '/admin/audit?target=groq', undefined, support);
    expect(audit.body.data.map((e: { action: string }) => e.action)).toEqual([
      'provider.restore',
      'provider.drain',
    ]);
    expect((await call(g.t, 'POST', '/admin/providers/nope/drain', { reason: 'typo' }, admin)).status).toBe(
      404,
    );
  });
});
