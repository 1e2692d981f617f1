import type { ProviderId } from '../common/provider-ids.js';

/** What this instance expects of a deployment: time to first token, and output speed when a stream told it. */
export interface LatencyEstimate {
  ttftMs: number;
  tokensPerSecond: number | null;
  /** `traffic`: live requests of the last `staleMs`; `probe`: only the provider's probes (no recent traffic). */
  source: 'traffic' | 'probe';
  /** When the estimate last moved (the instance's clock, ms). */
  updatedAt: number;
}

/** One live request's timing: a stream's first content, or a JSON answer's whole duration and size. */
export type LatencySample =
  | { kind: 'stream'; ttftMs: number }
  | { kind: 'json'; totalMs: number; completionTokens: number }
  | { kind: 'throughput'; tokens: number; ms: number };

export interface LatencyOptions {
  /** A sample this long after the previous one weighs half; sooner ones weigh less, but at least `minWeight`. */
  halfLifeMs: number;
  /** An estimate nothing fed for this long is forgotten (a provider that changed is not judged on old news). */
  staleMs: number;
}

/** The weight of one sample when samples come quickly (an EWMA of α = 0.2: the last ~10 requests count). */
const MIN_WEIGHT = 0.2;
/** No sample says more than this: a hung request must not make a number nothing can pull back. */
const MAX_MS = 120_000;
const MAX_TOKENS_PER_SECOND = 100_000;
/** Fewer tokens than this say nothing about speed (the first token's overhead dominates). */
const MIN_THROUGHPUT_TOKENS = 16;

/** A time-decaying exponentially weighted mean: each sample weighs more the longer it has been since the last. */
class Ewma {
  value: number;
  at: number;

  constructor(value: number, at: number) {
    this.value = value;
    this.at = at;
  }

  add(value: number, now: number, halfLifeMs: number): void {
    const age = Math.max(0, now - this.at);
    const weight = Math.max(MIN_WEIGHT, 1 - Math.pow(2, -age / halfLifeMs));
    this.value += weight * (value - this.value);
    this.at = now;
  }
}

function put(map: Map<string, Ewma>, key: string, value: number, now: number, halfLifeMs: number): void {
  const known = map.get(key);
  if (known) {
    known.add(value, now, halfLifeMs);
  } else {
    map.set(key, new Ewma(value, now));
  }
}

/**
 * Each deployment's time to first token and tokens per second on this instance, from live traffic, and each
 * provider's probe latency for deployments without recent traffic. Bounded: one entry per deployment and per
 * provider the catalog has (keys come from the catalog, never from a request), values clamped, and an
 * estimate not fed for `staleMs` is dropped. Pure: time is passed in.
 */
export class LatencyEstimates {
  private readonly ttft = new Map<string, Ewma>();
  private readonly speed = new Map<string, Ewma>();
  private readonly probes = new Map<ProviderId, Ewma>();

  constructor(private readonly options: LatencyOptions) {}

  observe(provider: ProviderId, providerModel: string, sample: LatencySample, now: number): void {
    const key = `${provider}/${providerModel}`;
    const { halfLifeMs } = this.options;
    switch (sample.kind) {
      case 'stream':
        put(this.ttft, key, clamp(sample.ttftMs, MAX_MS), now, halfLifeMs);
        return;
      case 'json': {
        // A JSON answer comes after the whole generation: what the first token took is the total less the time
        // the tokens took at the speed streams measured (the total when no stream measured it yet).
        const speed = this.fresh(this.speed.get(key), now)?.value;
        const generation = speed ? (sample.completionTokens / speed) * 1000 : 0;
        put(this.ttft, key, clamp(sample.totalMs - generation, MAX_MS), now, halfLifeMs);
        return;
      }
      case 'throughput':
        if (sample.tokens >= MIN_THROUGHPUT_TOKENS && sample.ms > 0) {
          put(
            this.speed,
            key,
            clamp((sample.tokens / sample.ms) * 1000, MAX_TOKENS_PER_SECOND),
            now,
            halfLifeMs,
          );
        }
        return;
    }
  }

  /** A probe's round trip: what a deployment of this provider without recent traffic is expected to take. */
  observeProbe(provider: ProviderId, latencyMs: number, now: number): void {
    put(this.probes, provider, clamp(latencyMs, MAX_MS), now, this.options.halfLifeMs);
  }

  estimate(provider: ProviderId, providerModel: string, now: number): LatencyEstimate | null {
    const key = `${provider}/${providerModel}`;
    const traffic = this.fresh(this.ttft.get(key), now, () => this.ttft.delete(key));
    const speed = this.fresh(this.speed.get(key), now, () => this.speed.delete(key));
    if (traffic) {
      return {
        ttftMs: round(traffic.value),
        tokensPerSecond: speed && round(speed.value),
        source: 'traffic',
        updatedAt: traffic.at,
      };
    }
    const probe = this.fresh(this.probes.get(provider), now, () => this.probes.delete(provider));
    return probe
      ? {
          ttftMs: round(probe.value),
          tokensPerSecond: speed && round(speed.value),
          source: 'probe',
          updatedAt: probe.at,
        }
      : null;
  }

  private fresh(ewma: Ewma | undefined, now: number, forget?: () => void): Ewma | null {
    if (!ewma) {
      return null;
    }
    if (now - ewma.at > this.options.staleMs) {
      forget?.();
      return null;
    }
    return ewma;
  }
}

function clamp(value: number, max: number): number {
  return Math.min(max, Math.max(0, Number.isFinite(value) ? value : max));
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
