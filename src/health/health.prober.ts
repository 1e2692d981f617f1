import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { PROVIDER_IDS, type ProviderId } from '../common/provider-ids.js';
import { Clock } from '../common/clock.js';
import { CONFIG, type Config } from '../config/config.js';
import { PROVIDER_ADAPTERS } from '../providers/registry.js';
import { isFailure, ProviderTransport } from '../providers/transport.js';
import type { ProviderAdapter } from '../providers/types.js';
import { ProviderDrains } from './drains.js';
import { HealthMetrics } from './health.metrics.js';
import { HealthRepository } from './health.repository.js';
import { HealthService } from './health.service.js';
import { judgeProbe, type ProbeOutcome } from './probe-outcome.js';

const PROBE_JOB = 'health-probe';
const SNAPSHOT_JOB = 'health-snapshot';
/** How many earlier probes a recovery is judged against ("degraded" until they are clean). */
const HISTORY = 2;

/**
 * Active health. Every instance ticks every `probeIntervalMs`; the one that claims the interval's round in the
 * database (rounds are numbered on the clock, `floor(now / probeIntervalMs)`) probes every enabled provider with
 * its cheapest no-token request (the adapter's `probeRequest`) and records the results in `provider_health`.
 * Every instance re-reads the latest results every `snapshotRefreshMs` into the in-memory snapshot the router
 * reads, so the router never probes per request and probes are not multiplied by the number of instances.
 */
@Injectable()
export class HealthProber implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(HealthProber.name);
  private round: Promise<void> | null = null;
  private refreshing: Promise<void> | null = null;
  private readonly stopping = new AbortController();
  /** The last verdict this instance logged per provider, so a state is logged when it changes, not every round. */
  private readonly logged = new Map<ProviderId, string>();

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly repository: HealthRepository,
    private readonly health: HealthService,
    private readonly metrics: HealthMetrics,
    private readonly transport: ProviderTransport,
    @Inject(PROVIDER_ADAPTERS) private readonly adapters: Record<ProviderId, ProviderAdapter>,
    private readonly scheduler: SchedulerRegistry,
    private readonly clock: Clock,
    private readonly drains: ProviderDrains,
  ) {}

  onApplicationBootstrap(): void {
    const { probeIntervalMs, snapshotRefreshMs } = this.config.health;
    this.scheduler.addInterval(
      PROBE_JOB,
      setInterval(() => void this.tick(), probeIntervalMs),
    );
    this.scheduler.addInterval(
      SNAPSHOT_JOB,
      setInterval(() => void this.refresh(), snapshotRefreshMs),
    );
    // At start too, so routing and /v1/status do not wait a whole interval for a first result.
    void this.tick();
  }

  async onModuleDestroy(): Promise<void> {
    for (const job of [PROBE_JOB, SNAPSHOT_JOB]) {
      if (this.scheduler.doesExist('interval', job)) {
        this.scheduler.deleteInterval(job);
      }
    }
    this.stopping.abort();
    await Promise.all([this.round, this.refreshing]);
  }

  /** Starts a round unless the previous one is still running (a slow round never overlaps the next). */
  tick(): Promise<void> {
    this.round ??= this.runRound()
      .catch((error: unknown) => this.failed('probe round', error))
      .finally(() => (this.round = null));
    return this.round;
  }

  /** Re-reads the latest shared results (and the drains) into the router's snapshot. */
  refresh(): Promise<void> {
    this.refreshing ??= Promise.all([this.repository.latest(this.staleAfterMs()), this.drains.refresh()])
      .then(([records]) => this.health.applySnapshot(records))
      .catch((error: unknown) => this.failed('health snapshot refresh', error))
      .finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async runRound(): Promise<void> {
    const enabled = PROVIDER_IDS.filter((id) => this.config.providers[id].enabled);
    const slot = Math.floor(this.clock.now() / this.config.health.probeIntervalMs);
    if (enabled.length === 0 || !(await this.repository.claimRound(slot))) {
      return;
    }
    const outcomes = await Promise.all(enabled.map((id) => this.probe(id)));
    if (this.stopping.signal.aborted) {
      return;
    }
    const previous = await this.repository.recentStates(HISTORY, this.staleAfterMs());
    const records = enabled.map((provider, i) => {
      const outcome = outcomes[i];
      const verdict = judgeProbe(outcome, previous.get(provider) ?? [], this.config.health.degradedLatencyMs);
      this.metrics.probes.inc({ provider, state: verdict.state });
      this.logVerdict(provider, outcome, verdict);
      return {
        provider,
        state: verdict.state,
        httpStatus: outcome.httpStatus,
        latencyMs: outcome.latencyMs === null ? null : Math.round(outcome.latencyMs),
        error: verdict.error,
      };
    });
    await this.repository.insert(records);
    await this.repository.purge();
    // A scheduled refresh still running may have read before the insert: this round's results get a read of
    // their own, so the snapshot shows them as soon as the round is over.
    await this.refreshing;
    await this.refresh();
  }

  /** One probe, bounded by `probeTimeoutMs` (and cancelled at shutdown). */
  private async probe(provider: ProviderId): Promise<ProbeOutcome> {
    const adapter = this.adapters[provider];
    const timeout = AbortSignal.timeout(this.config.health.probeTimeoutMs);
    const signal = AbortSignal.any([timeout, this.stopping.signal]);
    const started = performance.now();
    const timedOut = (): ProbeOutcome => ({
      kind: 'failed',
      httpStatus: null,
      latencyMs: null,
      failure: { kind: 'retryable', status: 0, message: 'The probe timed out.', code: 'timeout' },
    });
    const res = await this.transport.send(
      provider,
      adapter.probeRequest(this.config.providers[provider]),
      signal,
    );
    if (isFailure(res)) {
      return timeout.aborted
        ? timedOut()
        : { kind: 'failed', httpStatus: null, latencyMs: null, failure: res };
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch {
      return timeout.aborted
        ? timedOut()
        : {
            kind: 'failed',
            httpStatus: res.status,
            latencyMs: null,
            failure: {
              kind: 'retryable',
              status: 0,
              message: 'The probe answer broke off.',
              code: 'connection_error',
            },
          };
    }
    const latencyMs = performance.now() - started;
    if (res.status >= 400) {
      return {
        kind: 'failed',
        httpStatus: res.status,
        latencyMs,
        failure: adapter.mapError(res.status, text, res.headers),
      };
    }
    return { kind: 'ok', httpStatus: res.status, latencyMs };
  }

  /** Logs a provider's probe verdict when it changes. Never the key, nor the provider's message (it may quote it). */
  private logVerdict(
    provider: ProviderId,
    outcome: ProbeOutcome,
    verdict: ReturnType<typeof judgeProbe>,
  ): void {
    const summary = `${verdict.state}:${verdict.error ?? ''}`;
    const before = this.logged.get(provider);
    this.logged.set(provider, summary);
    if (summary === before) {
      return;
    }
    const context = { provider, state: verdict.state, status: outcome.httpStatus, reason: verdict.error };
    if (verdict.configurationError) {
      this.logger.error(
        context,
        `configuration error: ${provider} refused our API key (HTTP ${outcome.httpStatus}); check ` +
          `${provider.toUpperCase()}_API_KEY. The provider is skipped until its probe succeeds.`,
      );
    } else if (verdict.state === 'down') {
      this.logger.warn(context, `provider ${provider} is down (${verdict.error}): skipped until it recovers`);
    } else if (before !== undefined || verdict.state !== 'healthy') {
      this.logger.log(
        context,
        `provider ${provider} is ${verdict.state}${verdict.error ? ` (${verdict.error})` : ''}`,
      );
    }
  }

  /** Probe results older than this no longer say anything: the provider counts as not probed. */
  private staleAfterMs(): number {
    return 3 * this.config.health.probeIntervalMs + this.config.health.probeTimeoutMs;
  }

  private failed(what: string, error: unknown): void {
    if (this.stopping.signal.aborted) {
      return; // the database may already be closed at shutdown
    }
    this.logger.warn({ err: error }, `${what} failed: ${(error as Error).message}`);
  }
}
