import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { useGateway } from '../support/gateway.js';
import { ask, modelStatus, probeRound, providerStatus, status } from './support.js';

/** Longer than the suite runs: the scheduler never starts a round; the tests do, after moving the clock. */
const INTERVAL = 60_000;
const COOLDOWN = 30_000;

/**
 * Active health (a probe round each time a test moves the clock to the next interval) and passive health (circuit
 * breakers on live traffic, their cool-downs passed by moving the clock), seen from outside: which provider serves
 * a request, how many calls each fake provider received, and GET /v1/status.
 */
describe('health', () => {
  const clock = new ManualClock();
  const r = useGateway({
    clock,
    resetFakes: false,
    env: {
      HEALTH_PROBE_INTERVAL_MS: String(INTERVAL),
      BREAKER_FAILURE_THRESHOLD: '3',
      BREAKER_WINDOW_MS: '10000',
      BREAKER_COOLDOWN_MS: String(COOLDOWN),
      // Gemini's key is wrong from the start: a configuration error, not an outage.
      GEMINI_API_KEY: 'AIza-not-the-right-key',
    },
  });

  /** The next probe interval: the clock moves into it and its round runs. */
  async function nextRound(): Promise<void> {
    clock.advance(INTERVAL);
    await probeRound(r.t);
  }

  beforeAll(async () => {
    await probeRound(r.t); // the start-up round
    expect(providerStatus(await status(r.t), 'openai').last_checked_at).not.toBeNull();
  });
  afterEach(async () => {
    r.fakes.reset();
    // back to healthy (two clean probes after a failure) before the next test
    for (let round = 0; round < 3; round++) {
      await nextRound();
      if (providerStatus(await status(r.t), 'openai').state === 'healthy') {
        return;
      }
    }
    throw new Error('openai is not healthy again after three clean probe rounds');
  });

  it('skips a provider within a probe interval of it going down, and uses it again once it recovers', async () => {
    r.fakes.openai.setDown();
    await nextRound();
    expect(providerStatus(await status(r.t), 'openai').state).toBe('down');
    const before = r.fakes.openai.chatRequests().length;
    const res = await ask(r.live, 'gpt-6-luna');
    expect(res.model).toBe('claude-haiku-5-5');
    expect(res.provider).toBe('anthropic');
    expect(res.attempts).toBe(1); // skipped, not tried and failed
    expect(r.fakes.openai.chatRequests().length).toBe(before);

    const down = await status(r.t);
    expect(providerStatus(down, 'openai')).toMatchObject({ state: 'down', reason: 'connection_error' });
    expect(modelStatus(down, 'gpt-6-luna')).toMatchObject({
      state: 'down',
      fallback: 'claude-haiku-5-5',
      providers: [{ provider: 'openai', state: 'down' }],
    });
    // uptime is cached for a moment (on the clock): it shows the failed probes of the round just run
    expect(providerStatus(down, 'openai').uptime_24h).toBeLessThan(100);
    expect(providerStatus(await status(r.t), 'anthropic').uptime_24h).toBe(100);

    r.fakes.openai.setDown(false);
    await nextRound();
    expect(providerStatus(await status(r.t), 'openai').state).not.toBe('down');
    const back = await ask(r.live, 'gpt-6-luna');
    expect(back.provider).toBe('openai');
    expect(back.model).toBe('gpt-6-luna');
  });

  it('keeps a provider whose probes get 429s up (degraded, still used)', async () => {
    r.fakes.openai.addFault({ kind: 'rate_limit' }, { scope: 'probe', times: Infinity });
    await nextRound();
    expect(providerStatus(await status(r.t), 'openai').reason).toBe('rate_limited');
    // still only degraded after more rate-limited probes
    await nextRound();
    await nextRound();
    const s = await status(r.t);
    expect(providerStatus(s, 'openai').state).toBe('degraded');
    expect(s.models.find((m: any) => m.id === 'gpt-6-luna').state).toBe('degraded');
    const res = await ask(r.live, 'gpt-6-luna');
    expect(res.provider).toBe('openai');
  });

  it('treats a refused key as a configuration error: down, logged without the key', async () => {
    const gemini = providerStatus(await status(r.t), 'gemini');
    expect(gemini).toMatchObject({ enabled: true, state: 'down', reason: 'auth', uptime_24h: 0 });
    const logs = r.t.logs();
    expect(logs).toMatch(/configuration error: gemini refused our API key/);
    expect(logs).toContain('GEMINI_API_KEY');
    expect(logs).not.toContain('AIza-not-the-right-key');
    // its models go to their fallbacks without trying Gemini
    const res = await ask(r.live, 'gemini-3.8-flash');
    expect(res.model).toBe('gpt-6.1-terra');
    expect(res.attempts).toBe(1);
    expect(r.fakes.gemini.chatRequests()).toHaveLength(0);
  });

  it('opens a model’s circuit after N failures on live traffic, then closes it after a successful trial', async () => {
    r.fakes.openai.addFault({ kind: 'status', status: 502 }, { times: 3, model: 'gpt-6-luna' });
    for (let i = 0; i < 3; i++) {
      const res = await ask(r.live, 'gpt-6-luna');
      expect(res).toMatchObject({ provider: 'anthropic', attempts: 2 });
    }
    expect(r.fakes.openai.chatRequests()).toHaveLength(3);
    const open = await status(r.t);
    expect(modelStatus(open, 'gpt-6-luna').providers).toEqual([
      expect.objectContaining({ provider: 'openai', state: 'down' }),
    ]);
    // a 5xx is that model's trouble: the provider and its other models stay in use
    expect(providerStatus(open, 'openai').circuit).toBe('closed');
    expect((await ask(r.live, 'gpt-6.2-sol')).provider).toBe('openai');

    // open: skipped at once, although the provider's probes are fine
    const skipped = await ask(r.live, 'gpt-6-luna');
    expect(skipped).toMatchObject({ provider: 'anthropic', attempts: 1 });
    expect(r.fakes.openai.chatRequests()).toHaveLength(4);

    // still shut until the cool-down has passed; then one trial goes through, it succeeds and closes the circuit
    clock.advance(COOLDOWN - 1);
    expect(modelStatus(await status(r.t), 'gpt-6-luna').providers[0].state).toBe('down');
    clock.advance(1);
    expect(modelStatus(await status(r.t), 'gpt-6-luna').providers[0].state).toBe('degraded'); // half-open
    const trial = await ask(r.live, 'gpt-6-luna');
    expect(trial).toMatchObject({ provider: 'openai', attempts: 1 });
    expect(modelStatus(await status(r.t), 'gpt-6-luna')).toMatchObject({
      state: 'healthy',
      providers: [{ provider: 'openai', state: 'healthy' }],
    });
    expect((await ask(r.live, 'gpt-6-luna')).provider).toBe('openai');
  });

  it('opens the provider’s circuit on connection failures: all its models are skipped until a trial succeeds', async () => {
    r.fakes.openai.addFault({ kind: 'down' }, { times: 3 }); // chat calls only: the probes still pass
    await ask(r.live, 'gpt-6.2-sol');
    await ask(r.live, 'gpt-6.2-astra');
    await ask(r.live, 'gpt-6.2-sol');
    expect(providerStatus(await status(r.t), 'openai')).toMatchObject({ state: 'down', circuit: 'open' });
    const before = r.fakes.openai.chatRequests().length;
    const other = await ask(r.live, 'gpt-6-luna'); // a model that did not fail itself
    expect(other).toMatchObject({ model: 'claude-haiku-5-5', attempts: 1 });
    expect(r.fakes.openai.chatRequests()).toHaveLength(before);

    clock.advance(COOLDOWN);
    expect((await ask(r.live, 'gpt-6.2-sol')).provider).toBe('openai');
    expect(providerStatus(await status(r.t), 'openai')).toMatchObject({
      state: 'healthy',
      circuit: 'closed',
    });
  });

  it('re-opens the circuit when the half-open trial fails', async () => {
    r.fakes.openai.addFault({ kind: 'status', status: 500 }, { times: 4 });
    for (let i = 0; i < 3; i++) {
      await ask(r.live, 'gpt-6-luna');
    }
    clock.advance(COOLDOWN);
    const trial = await ask(r.live, 'gpt-6-luna'); // the trial: openai fails (4th fault), anthropic serves
    expect(trial).toMatchObject({ provider: 'anthropic', attempts: 2 });
    expect(r.fakes.openai.chatRequests()).toHaveLength(4);
    expect(modelStatus(await status(r.t), 'gpt-6-luna').providers[0].state).toBe('down');
    expect((await ask(r.live, 'gpt-6-luna')).attempts).toBe(1);
    expect(r.fakes.openai.chatRequests()).toHaveLength(4);
    clock.advance(COOLDOWN);
    expect((await ask(r.live, 'gpt-6-luna')).provider).toBe('openai');
  });

  it('does not count 429s from live traffic toward the circuit', async () => {
    r.fakes.openai.addFault({ kind: 'rate_limit' }, { times: 5 });
    for (let i = 0; i < 5; i++) {
      expect((await ask(r.live, 'gpt-6-luna')).provider).toBe('anthropic');
    }
    expect(modelStatus(await status(r.t), 'gpt-6-luna').providers[0].state).toBe('healthy');
    expect((await ask(r.live, 'gpt-6-luna')).provider).toBe('openai');
  });

  it('exposes failovers, circuit changes, upstream latency and probe results in /metrics', async () => {
    const text = await (await fetch(`${r.t.url}/metrics`)).text();
    expect(text).toMatch(/conflux_failovers_total\{provider="openai",reason="server_error"\} [1-9]/);
    expect(text).toMatch(/conflux_failovers_total\{provider="openai",reason="rate_limited"\} [1-9]/);
    // Providers passed over untried: down by the probes (the first test), circuit open (the breaker tests).
    expect(text).toMatch(/conflux_failover_skipped_total\{provider="openai",reason="down"\} [1-9]/);
    expect(text).toMatch(/conflux_failover_skipped_total\{provider="openai",reason="circuit_open"\} [1-9]/);
    expect(text).toMatch(
      /conflux_circuit_breaker_transitions_total\{provider="openai",model="\*",state="open"\} [1-9]/,
    );
    expect(text).toMatch(
      /conflux_circuit_breaker_transitions_total\{provider="openai",model="gpt-6-luna",state="closed"\} [1-9]/,
    );
    expect(text).toMatch(
      /conflux_circuit_breaker_transitions_total\{provider="openai",model="gpt-6-luna",state="half_open"\} [1-9]/,
    );
    expect(text).toMatch(/conflux_upstream_latency_seconds_count\{provider="anthropic"\} [1-9]/);
    expect(text).toMatch(/conflux_health_probes_total\{provider="openai",state="down"\} [1-9]/);
    expect(text).toMatch(/conflux_health_probes_total\{provider="gemini",state="down"\} [1-9]/);
    expect(text).toMatch(/conflux_provider_health_state\{provider="gemini"\} 2/);
  });

  it('GET /v1/status is public and lists every provider and model', async () => {
    const res = await fetch(`${r.t.url}/v1/status`);
    expect(res.status).toBe(200);
    const body: any = await res.json();
    expect(body.providers.map((p: any) => p.id)).toEqual([
      'openai',
      'anthropic',
      'gemini',
      'cerebras',
      'groq',
    ]);
    for (const p of body.providers) {
      expect(p).toEqual({
        id: expect.any(String),
        enabled: true,
        state: expect.stringMatching(/^(healthy|degraded|down)$/),
        circuit: expect.stringMatching(/^(closed|open|half_open)$/),
        last_checked_at: expect.any(String),
        latency_ms: expect.any(Number),
        reason: p.state === 'healthy' ? null : expect.any(String),
        uptime_24h: expect.any(Number),
      });
      expect(Date.now() - Date.parse(p.last_checked_at)).toBeLessThan(60_000);
    }
    expect(body.models).toHaveLength(16);
    expect(body.models.find((m: any) => m.id === 'openai/gpt-oss-120b')).toEqual({
      id: 'openai/gpt-oss-120b',
      state: 'healthy',
      providers: [
        // with a latency estimate from this instance's traffic or probes (the probes ran: never null here)
        expect.objectContaining({ provider: 'groq', state: 'healthy', ttft_ms: expect.any(Number) }),
        expect.objectContaining({ provider: 'cerebras', state: 'healthy', ttft_ms: expect.any(Number) }),
      ],
      fallback: 'openai/gpt-oss-20b',
    });
    // Gemini's key is wrong: its models are down (their requests go to the fallbacks)
    expect(body.models.find((m: any) => m.id === 'gemini-4-argon').state).toBe('down');
    expect(body.status).toBe('degraded');
  });
});
