import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { HealthService } from '../../src/health/health.service.js';
import { startFakes, type Fakes } from '../fakes/index.js';
import { createKey, signup, type TestApp, startApp } from '../support/app.js';
import { client, gatewayEnv } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { ask } from './support.js';

const COOLDOWN = 30_000;

/**
 * Circuit breakers shared through Redis: two instances on one database and one Redis, each with its own clock
 * (moved together, as NTP keeps machines'). Failures sent to A open the circuit; B skips the provider at once.
 */
describe.skipIf(!process.env.REDIS_URL)('circuit breakers shared by two instances', () => {
  let fakes: Fakes;
  let a: TestApp;
  let b: TestApp;
  const start = Date.now();
  const clocks = [new ManualClock(start), new ManualClock(start)];
  let keyA: string;
  let keyB: string;

  beforeAll(async () => {
    fakes = await startFakes();
    const env = gatewayEnv(fakes, {
      REDIS_URL: process.env.REDIS_URL!,
      HEALTH_PROBE_INTERVAL_MS: '600000',
      BREAKER_FAILURE_THRESHOLD: '2',
      BREAKER_COOLDOWN_MS: String(COOLDOWN),
    });
    a = await startApp(env, { clock: clocks[0] });
    b = await startApp(env, { clock: clocks[1], shareDatabaseWith: a });
    const { token } = await signup(a);
    keyA = (await createKey(a, token, 'live')).key;
    keyB = (await createKey(a, token, 'live')).key;
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await fakes?.close();
  });

  it('opens on instance B the circuit failures opened on instance A, and one instance takes the trial', async () => {
    const model = 'openai/gpt-oss-120b'; // Groq first, then Cerebras
    fakes.groq.addFault({ kind: 'status', status: 500 }, { times: 2 });
    for (let i = 0; i < 2; i++) {
      expect((await ask(client(a, keyA), model)).provider).toBe('cerebras');
    }
    expect(fakes.groq.chatRequests()).toHaveLength(2);
    // B never saw a failure: it hears of the circuit through Redis, within a second.
    const groqOnB = () => b.app.get(HealthService).stateOf('groq', model);
    await waitFor(() => groqOnB() === 'down', 1_000, 'the circuit to open on B');
    const served = await ask(client(b, keyB), model);
    expect(served).toMatchObject({ provider: 'cerebras', attempts: 1 });
    expect(fakes.groq.chatRequests()).toHaveLength(2);

    // After the cool-down, both instances are half-open: exactly one of them gets the trial.
    clocks.forEach((c) => c.advance(COOLDOWN));
    const healths = [a, b].map((t) => t.app.get(HealthService));
    await Promise.all(healths.map((h) => h.prepare([{ provider: 'groq', providerModel: model }])));
    const ranks = healths.map((h) => h.rank('groq', model));
    expect(ranks.filter((r) => Number.isFinite(r))).toHaveLength(1);

    // The trial (handed out by the rank above, as a request would take it) succeeds: closed on both instances.
    const winner = Number.isFinite(ranks[0]) ? 0 : 1;
    healths[winner].recordSuccess('groq', model, 5);
    await waitFor(
      () => healths.every((h) => h.view('groq', model).circuit === 'closed'),
      1_000,
      'the circuit to close on both',
    );
    const loser = winner === 0 ? b : a;
    expect((await ask(client(loser, winner === 0 ? keyB : keyA), model)).provider).toBe('groq');
  });

  it('a third instance started later reads the circuits open now', async () => {
    const model = 'openai/gpt-oss-120b';
    fakes.groq.addFault({ kind: 'status', status: 500 }, { times: 2 });
    for (let i = 0; i < 2; i++) {
      await ask(client(a, keyA), model);
    }
    await waitFor(
      () => a.app.get(HealthService).stateOf('groq', model) === 'down',
      1_000,
      'the circuit on A',
    );
    const c = await startApp(
      gatewayEnv(fakes, {
        REDIS_URL: process.env.REDIS_URL!,
        HEALTH_PROBE_INTERVAL_MS: '600000',
        BREAKER_FAILURE_THRESHOLD: '2',
        BREAKER_COOLDOWN_MS: String(COOLDOWN),
      }),
      { clock: new ManualClock(clocks[0].now()), shareDatabaseWith: a },
    );
    try {
      expect(c.app.get(HealthService).stateOf('groq', model)).toBe('down');
    } finally {
      await c.close();
    }
  });
});

/** Redis configured but not answering: the degraded mode keeps breakers per instance, and routing goes on. */
describe('circuit breakers while Redis is down', () => {
  let fakes: Fakes;
  let t: TestApp;
  let key: string;

  beforeAll(async () => {
    fakes = await startFakes();
    t = await startApp(
      gatewayEnv(fakes, {
        REDIS_URL: 'redis://127.0.0.1:1', // nothing listens there
        HEALTH_PROBE_INTERVAL_MS: '600000',
        BREAKER_FAILURE_THRESHOLD: '2',
      }),
    );
    const { token } = await signup(t);
    key = (await createKey(t, token, 'live')).key;
  });
  afterAll(async () => {
    await t?.close();
    await fakes?.close();
  });

  it('opens the circuit on this instance and serves from the next provider', async () => {
    const model = 'openai/gpt-oss-120b';
    fakes.groq.addFault({ kind: 'status', status: 500 }, { times: 2 });
    for (let i = 0; i < 2; i++) {
      expect((await ask(client(t, key), model)).provider).toBe('cerebras');
    }
    expect(t.app.get(HealthService).stateOf('groq', model)).toBe('down');
    expect(await ask(client(t, key), model)).toMatchObject({ provider: 'cerebras', attempts: 1 });
    expect(fakes.groq.chatRequests()).toHaveLength(2);
  });
});
