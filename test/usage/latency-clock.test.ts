import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { call } from '../support/app.js';
import { useGateway } from '../support/gateway.js';

/**
 * A request's latency and time to first token are read from one clock, the app's: a gateway whose clock is not the
 * wall clock (here a month ahead, as a test that moves time has) still reports what the request took, and bills it.
 */
describe('latency by the app clock', () => {
  const clock = new ManualClock(Date.now() + 30 * 86_400_000);
  const g = useGateway({ clock });

  it('a served request reports the latency the clock saw (0 ms while it stands still), not the gap between two clocks', async () => {
    for (const stream of [false, true]) {
      const body = {
        model: 'gpt-6-luna',
        messages: [{ role: 'user' as const, content: 'hi' }],
        max_tokens: 5,
      };
      if (stream) {
        const s = await g.live.chat.completions.create({ ...body, stream: true });
        for await (const chunk of s) {
          void chunk;
        }
      } else {
        await g.live.chat.completions.create(body);
      }
    }
    const res = await call(g.t, 'GET', '/v1/usage?limit=10', undefined, g.session);
    expect(res.status).toBe(200);
    const served = (
      res.body.data as Array<{ latency_ms: number; ttft_ms: number | null; stream: boolean }>
    ).filter((e) => e.latency_ms !== undefined);
    expect(served.map((e) => e.stream).sort()).toEqual([false, true]);
    for (const event of served) {
      expect(event.latency_ms).toBe(0);
      expect(event.ttft_ms ?? 0).toBe(0);
    }
  });
});
