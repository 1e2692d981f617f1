import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { PROVIDER_IDS, type ProviderId } from '../common/provider-ids.js';
import { Clock } from '../common/clock.js';
import { CONFIG, type Config } from '../config/config.js';
import type { ProviderFailure } from '../providers/types.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { ProviderDrains } from './drains.js';
import { HealthMetrics } from './health.metrics.js';
import type { BreakerState, HealthState, ProbeRecord } from './health.types.js';
import { LatencyEstimates, type LatencyEstimate, type LatencySample } from './latency.js';
import { SharedCircuits, type CircuitNews } from './shared-circuits.js';
import { countsAgainstModel, countsAgainstProvider, failureReason } from './probe-outcome.js';
import { ProviderHealth } from './provider-health.js';

/** What the router knows about one provider (or one provider model), for /v1/status. */
export interface HealthView {
  /** The latest shared probe, or undefined when it was never probed (or not lately). */
  probe: ProbeRecord | undefined;
  circuit: BreakerState;
}

/** A sample a minute after the last one weighs half (sooner ones less: the last ~10 requests count). */
const LATENCY_HALF_LIFE_MS = 60_000;
/** An estimate nothing fed for this long is forgotten. */
const LATENCY_STALE_MS = 15 * 60_000;

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
export class HealthService extends ProviderHealth implements OnModuleInit {
  private readonly logger = new Logger(HealthService.name);
  private snapshot = new Map<ProviderId, ProbeRecord>();
  /** When the snapshot was last refreshed (local clock): an old one is not trusted. */
  private snapshotAt = 0;
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly latencies = new LatencyEstimates({
    halfLifeMs: LATENCY_HALF_LIFE_MS,
    staleMs: LATENCY_STALE_MS,
  });
  /** The probe each provider's latency was last fed from (each probe counts once). */
  private readonly probesFed = new Map<ProviderId, number>();
  /** Shared circuits: the half-open trials this instance won, by circuit, and when. */
  private readonly trials = new Map<string, number>();
  private readonly claiming = new Map<string, Promise<void>>();
  /** True while a change heard from another instance is applied (it is not told back). */
  private remote = false;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly metrics: HealthMetrics,
    private readonly clock: Clock,
    private readonly circuits: SharedCircuits,

    private readonly drains: ProviderDrains,
  ) {
    super();
  }

  /** Joins the shared circuits (with Redis): their news from now on, and the circuits open already. */
  async onModuleInit(): Promise<void> {
    await this.circuits.listen(
      (news) => this.hear(news),
      () => void this.resync(),
    );
    await this.resync();
  }

  rank(provider: ProviderId, providerModel: string): number {
    if (this.drains.isDrained(provider)) {
      return Infinity; // drained by staff: skipped like a provider that is down
    }
    const now = this.clock.now();
    const whole = this.breaker(provider, null);
    const model = this.breaker(provider, providerModel);
    const probe = this.probe(provider, now);
    if (
      probe?.state === 'down' ||
      !whole.wouldPermit(now) ||
      !model.wouldPermit(now) ||
      !this.mayTry(key(provider, null), whole, now) ||
      !this.mayTry(key(provider, providerModel), model, now)
    ) {
      return Infinity;
    }
    whole.permit(now);
    model.permit(now);
    // A half-open trial goes to a deployment that just failed: the known-good ones come first.
    return probe?.state === 'degraded' || whole.inTrial(now) || model.inTrial(now) ? 1 : 0;
  }

  /**
   * With shared circuits, a half-open circuit's one trial goes to the instance that claims it in Redis: the
   * others keep skipping the deployment until the trial's outcome reaches them.
   */
  async prepare(deployments: ReadonlyArray<{ provider: ProviderId; providerModel: string }>): Promise<void> {
    if (!this.circuits.shared) {
      return;
    }
    const now = this.clock.now();
    const claims: Array<Promise<void>> = [];
    for (const { provider, providerModel } of deployments) {
      for (const model of [null, providerModel]) {
        const id = key(provider, model);
        const breaker = this.breakers.get(id);
        if (!breaker || breaker.state(now) !== 'half_open' || this.trialHeld(id, now)) {
          continue;
        }
        let claim = this.claiming.get(id);
        if (!claim) {
          claim = this.circuits
            .claimTrial(circuitName(provider, model))
            .then((won) => {
              if (won) {
                this.trials.set(id, this.clock.now());
              }
            })
            .finally(() => this.claiming.delete(id));
          this.claiming.set(id, claim);
        }
        claims.push(claim);
      }
    }
    await Promise.all(claims);
  }

  latency(provider: ProviderId, providerModel: string): LatencyEstimate | null {
    return this.latencies.estimate(provider, providerModel, this.clock.now());
  }

  recordLatency(provider: ProviderId, providerModel: string, sample: LatencySample): void {
    this.latencies.observe(provider, providerModel, sample, this.clock.now());
  }

  recordSuccess(provider: ProviderId, providerModel: string, latencyMs: number): void {
    const now = this.clock.now();
    this.breaker(provider, null).success(now);
    this.breaker(provider, providerModel).success(now);
    this.metrics.upstreamLatency.observe({ provider }, latencyMs / 1000);
  }

  recordSkipped(provider: ProviderId): void {
    const probe = this.probe(provider, this.clock.now());
    this.metrics.skipped.inc({ provider, reason: probe?.state === 'down' ? 'down' : 'circuit_open' });
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
      // Probes stand in for traffic in the latency estimate (a deployment with recent traffic uses its own).
      const at = record.checkedAt.getTime();
      if (
        record.latencyMs !== null &&
        record.state !== 'down' &&
        this.probesFed.get(record.provider) !== at
      ) {
        this.probesFed.set(record.provider, at);
        this.latencies.observeProbe(record.provider, record.latencyMs, this.snapshotAt);
      }
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

  /** A half-open circuit may be tried here unless it is shared and another instance holds its trial. */
  private mayTry(id: string, breaker: CircuitBreaker, now: number): boolean {
    return !this.circuits.shared || breaker.state(now) !== 'half_open' || this.trialHeld(id, now);
  }

  /** Whether this instance won the circuit's trial within the last cool-down (the Redis claim's life). */
  private trialHeld(id: string, now: number): boolean {
    const at = this.trials.get(id);
    return at !== undefined && now - at < this.config.health.breaker.cooldownMs;
  }

  /** Another instance's circuit opened (or its trial failed), or its trial succeeded. */
  private hear(news: CircuitNews): void {
    const circuit = parseCircuit(news.circuit);
    if (!circuit) {
      return;
    }
    const breaker = this.breaker(circuit.provider, circuit.providerModel);
    this.trials.delete(key(circuit.provider, circuit.providerModel));
    this.remote = true;
    try {
      if (news.state === 'open') {
        breaker.trip(this.clock.now());
      } else {
        breaker.reset();
      }
    } finally {
      this.remote = false;
    }
  }

  /** Opens the circuits other instances marked open (at start, and when Redis comes back). */
  private async resync(): Promise<void> {
    try {
      const marked = await this.circuits.marked();
      const now = this.clock.now();
      this.remote = true;
      try {
        for (const { circuit, ageMs } of marked) {
          const parsed = parseCircuit(circuit);
          const breaker = parsed && this.breaker(parsed.provider, parsed.providerModel);
          if (breaker && breaker.state(now) === 'closed') {
            breaker.trip(now - ageMs);
          }
        }
      } finally {
        this.remote = false;
      }
    } catch (error) {
      this.logger.warn(`could not read the shared circuits: ${(error as Error).message}`);
    }
  }

  private breaker(provider: ProviderId, providerModel: string | null): CircuitBreaker {
    const id = key(provider, providerModel);
    let breaker = this.breakers.get(id);
    if (!breaker) {
      const scope = circuitName(provider, providerModel);
      breaker = new CircuitBreaker(this.config.health.breaker, (state) => {
        this.metrics.breakerChanged(provider, providerModel, state);
        const context = { provider, model: providerModel, circuit: state };
        const heard = this.remote ? ' (on another instance)' : '';
        if (state === 'open') {
          this.logger.warn(
            context,
            `circuit of ${scope} opened${heard}: skipped until a trial request succeeds`,
          );
        } else {
          this.logger.log(
            context,
            `circuit of ${scope} is ${state === 'half_open' ? 'half-open' : state}${heard}`,
          );
        }
        if (!this.remote && state !== 'half_open') {
          this.trials.delete(id);
          if (state === 'open') {
            this.circuits.opened(scope);
          } else {
            this.circuits.closed(scope);
          }
        }
      });
      this.breakers.set(id, breaker);
    }
    return breaker;
  }
}

/** A circuit as instances name it to each other: `provider` or `provider/providerModel`. */
function circuitName(provider: ProviderId, providerModel: string | null): string {
  return providerModel === null ? provider : `${provider}/${providerModel}`;
}

function parseCircuit(name: string): { provider: ProviderId; providerModel: string | null } | null {
  const slash = name.indexOf('/');
  const provider = (slash < 0 ? name : name.slice(0, slash)) as ProviderId;
  if (!PROVIDER_IDS.includes(provider)) {
    return null;
  }
  return { provider, providerModel: slash < 0 ? null : name.slice(slash + 1) };
}

function key(provider: ProviderId, providerModel: string | null): string {
  return providerModel === null ? provider : `${provider}\u0000${providerModel}`;
}
