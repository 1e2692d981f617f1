import { describe, expect, it } from 'vitest';
import { LatencyEstimates } from './latency.js';

describe('LatencyEstimates', () => {
  const make = () => new LatencyEstimates({ halfLifeMs: 60_000, staleMs: 600_000 });

  it('moves towards new samples, a little when they come quickly, most of the way after a long silence', () => {
    const l = make();
    l.observe('groq', 'm', { kind: 'stream', ttftMs: 100 }, 0);
    expect(l.estimate('groq', 'm', 0)).toMatchObject({ ttftMs: 100, source: 'traffic' });
    l.observe('groq', 'm', { kind: 'stream', ttftMs: 600 }, 10);
    expect(l.estimate('groq', 'm', 10)!.ttftMs).toBe(200); // weight 0.2
    l.observe('groq', 'm', { kind: 'stream', ttftMs: 600 }, 10 + 600_000);
    expect(l.estimate('groq', 'm', 10 + 600_000)!.ttftMs).toBeGreaterThan(599);
  });

  it('is bounded: a hung request counts as two minutes at most, and old estimates are forgotten', () => {
    const l = make();
    l.observe('groq', 'm', { kind: 'stream', ttftMs: 10_000_000 }, 0);
    expect(l.estimate('groq', 'm', 0)!.ttftMs).toBe(120_000);
    expect(l.estimate('groq', 'm', 600_001)).toBeNull();
  });

  it('takes the generation time out of a JSON answer once streams measured the speed', () => {
    const l = make();
    l.observe('groq', 'm', { kind: 'json', totalMs: 1_000, completionTokens: 100 }, 0);
    expect(l.estimate('groq', 'm', 0)!.ttftMs).toBe(1_000);
    const m = make();
    m.observe('groq', 'm', { kind: 'throughput', tokens: 200, ms: 1_000 }, 0); // 200 tokens/s
    m.observe('groq', 'm', { kind: 'json', totalMs: 1_000, completionTokens: 100 }, 0);
    expect(m.estimate('groq', 'm', 0)).toMatchObject({ ttftMs: 500, tokensPerSecond: 200 });
    m.observe('groq', 'm', { kind: 'throughput', tokens: 3, ms: 1 }, 0); // too few tokens to say anything
    expect(m.estimate('groq', 'm', 0)!.tokensPerSecond).toBe(200);
  });

  it('falls back on the provider’s probes for a deployment without recent traffic', () => {
    const l = make();
    l.observeProbe('cerebras', 40, 0);
    expect(l.estimate('cerebras', 'x', 0)).toMatchObject({ ttftMs: 40, source: 'probe' });
    l.observe('cerebras', 'x', { kind: 'stream', ttftMs: 300 }, 0);
    expect(l.estimate('cerebras', 'x', 0)).toMatchObject({ ttftMs: 300, source: 'traffic' });
    expect(l.estimate('cerebras', 'y', 0)).toMatchObject({ ttftMs: 40, source: 'probe' });
  });
});
