import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ProviderId } from '../common/provider-ids.js';
import { Clock } from '../common/clock.js';
import { CONFIG, type Config } from '../config/config.js';
import type { ProviderFailure } from '../providers/types.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { ProviderDrains } from './drains.js';
import { HealthMetrics } from './health.metrics.js';
import type { BreakerState, HealthState, ProbeRecord } from './health.types.js';
import { countsAgainstModel, countsAgainstProvider, failureReason } from './probe-outcome.js';
import { ProviderHealth } from './provider-health.js';

/** What the router knows about one provider (or one provider model), for /v1/status. */
export interface HealthView {
  /** The latest shared probe, or undefined when it was never probed (or not lately). */
  probe: ProbeRecord | undefined;
  circuit: BreakerState;
}

/**
 * Provider health as the router sees it, answered from memory on the hot path:
 * - active: the latest shared probe result per provider (a snapshot the prober refreshes from `provider_health`);
 * - passive: circuit breakers fed by live traffic, one per provider model (every failure that is the
 *   provider's fault) and one per provider (failures that concern all its models: unreachable, timed out, our
 *   key refused), so one broken model does not take its provider's other models down.
 *
 * rank: Infinity when the latest probe says down or a circuit is open (half-open: finite for the one caller
 * that gets the trial), 1 when degraded (a slow, rate-limited or just-recovered probe, or a half-open trial),
 * 0 when healthy. A provider never probed (or not lately) counts as healthy.
 */
@Injectable()
export class HealthService extends ProviderHealth {
  private readonly logger = new Logger(HealthService.name);
  private snapshot = new Map<ProviderId, ProbeRecord>();
  /** When the snapshot was last refreshed (local clock): an old one is not trusted. */
  private snapshotAt = 0;
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly metrics: HealthMetrics,
    private readonly clock: Clock,
    private readonly drains: ProviderDrains,
  ) {
    super();
  }

  rank(provider: ProviderId, providerModel: string): number {
    if (this.drains.isDrained(provider)) {
      return Infinity; // drained by staff: skipped like a provider that is down
    }
    const now = this.clock.now();
    const whole = this.breaker(provider, null);
    const model = this.breaker(provider, providerModel);
    const probe = this.probe(provider, now);
    if (probe?.state === 'down' || !whole.wouldPermit(now) || !model.wouldPermit(now)) {
      return Infinity;
    }
    whole.permit(now);
    model.permit(now);
    // A half-open trial goes to a deployment that just failed: the known-good ones come first.
    return probe?.state === 'degraded' || whole.inTrial(now) || model.inTrial(now) ? 1 : 0;
  }

  recordSuccess(provider: ProviderId, providerModel: string, latencyMs: number): void {
    const now = this.clock.now();
    this.breaker(provider, null).success(now);
    this.breaker(provider, providerModel).success(now);
    this.metrics.upstreamLatency.observe({ provider }, latencyMs / 1000);
  }

  recordFailure(provider: ProviderId, providerModel: string, failure: ProviderFailure): void {
    if (failure.kind === 'client') {
      return; // the request was wrong, not the provider: relayed as a 400, never failed over
    }
    this.metrics.failovers.inc({ provider, reason: failureReason(failure) });
    const now = this.clock.now();
    if (countsAgainstModel(failure)) {
      this.breaker(provider, providerModel).failure(now);
    }
    if (countsAgainstProvider(failure)) {
      this.breaker(provider, null).failure(now);
    }
  }

  /** Replaces the probe snapshot with the latest shared results (providers absent: not probed lately). */
  applySnapshot(records: readonly ProbeRecord[]): void {
    this.snapshot = new Map(records.map((r) => [r.provider, r]));
    this.snapshotAt = this.clock.now();
    for (const record of records) {
      this.metrics.stateIs(record.provider, record.state);
    }
  }

  /** The provider's probe and provider-wide circuit (providerModel null), or one provider model's circuit. */
  view(provider: ProviderId, providerModel: string | null = null): HealthView {
    const now = this.clock.now();
    return {
      probe: this.probe(provider, now),
      circuit: this.breakers.get(key(provider, providerModel))?.state(now) ?? 'closed',
    };
  }

  /** The state /v1/status shows for a provider, or for one of its models: probe and circuits combined. */
  stateOf(provider: ProviderId, providerModel: string | null = null): HealthState | 'unknown' {
    const { probe, circuit } = this.view(provider);
    const circuits = [
      circuit,
      ...(providerModel === null ? [] : [this.view(provider, providerModel).circuit]),
    ];
    if (probe?.state === 'down' || circuits.includes('open')) {
      return 'down';
    }
    if (probe?.state === 'degraded' || circuits.includes('half_open')) {
      return 'degraded';
    }
    return probe ? 'healthy' : 'unknown';
  }

  /**
   * The latest probe, unless the snapshot has not been refreshed for several intervals (the database is out
   * of reach): then the provider counts as not probed rather than stuck in an old state.
   */
  private probe(provider: ProviderId, now: number): ProbeRecord | undefined {
    const { probeIntervalMs, probeTimeoutMs } = this.config.health;
    return now - this.snapshotAt > 3 * probeIntervalMs + probeTimeoutMs
      ? undefined
      : this.snapshot.get(provider);
  }

  private breaker(provider: ProviderId, providerModel: string | null): CircuitBreaker {
    const id = key(provider, providerModel);
    let breaker = this.breakers.get(id);
    if (!breaker) {
      const scope = providerModel === null ? provider : `${provider}/${providerModel}`;
      breaker = new CircuitBreaker(this.config.health.breaker, (state) => {
        this.metrics.breakerChanged(provider, providerModel, state);
        const context = { provider, model: providerModel, circuit: state };
        if (state === 'open') {
          this.logger.warn(context, `circuit of ${scope} opened: skipped until a trial request succeeds`);
        } else {
          this.logger.log(context, `circuit of ${scope} is ${state === 'half_open' ? 'half-open' : state}`);
        }
      });
      this.breakers.set(id, breaker);
    }
    return breaker;
  }
}

function key(provider: ProviderId, providerModel: string | null): string {
  return providerModel === null ? provider : `${provider}\u0000${providerModel}`;
}
