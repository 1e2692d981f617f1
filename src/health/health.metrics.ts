import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { ProviderId } from '../common/provider-ids.js';
import { MetricsService } from '../ops/metrics.service.js';
import type { BreakerState, HealthState } from './health.types.js';

const STATE_VALUE: Record<HealthState, number> = { healthy: 0, degraded: 1, down: 2 };

/** Routing and health metrics, on the app's Prometheus registry. Labels: providers and provider models only. */
@Injectable()
export class HealthMetrics {
  readonly failovers: Counter<'provider' | 'reason'>;
  readonly skipped: Counter<'provider' | 'reason'>;
  readonly breakerChanges: Counter<'provider' | 'model' | 'state'>;
  readonly upstreamLatency: Histogram<'provider'>;
  readonly probes: Counter<'provider' | 'state'>;
  readonly providerState: Gauge<'provider'>;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.failovers = new Counter({
      name: 'conflux_failovers_total',
      help: 'Failed provider attempts of a failover class (the next candidate, if any, was tried), by provider and cause',
      labelNames: ['provider', 'reason'] as const,
      registers,
    });
    this.skipped = new Counter({
      name: 'conflux_failover_skipped_total',
      help:
        'Providers a request failed over past without trying them (down by the probes, or circuit open), ' +
        'by provider and reason: the failovers conflux_failovers_total does not see',
      labelNames: ['provider', 'reason'] as const,
      registers,
    });
    this.breakerChanges = new Counter({
      name: 'conflux_circuit_breaker_transitions_total',
      help: 'Circuit breaker state changes, per provider (model "*") and per provider model',
      labelNames: ['provider', 'model', 'state'] as const,
      registers,
    });
    this.upstreamLatency = new Histogram({
      name: 'conflux_upstream_latency_seconds',
      help: 'Time until a provider answered (first content event for streams), successful attempts only',
      labelNames: ['provider'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60],
      registers,
    });
    this.probes = new Counter({
      name: 'conflux_health_probes_total',
      help: 'Health probes run by this instance, by provider and resulting state',
      labelNames: ['provider', 'state'] as const,
      registers,
    });
    this.providerState = new Gauge({
      name: 'conflux_provider_health_state',
      help: 'Latest shared probe result per provider: 0 healthy, 1 degraded, 2 down',
      labelNames: ['provider'] as const,
      registers,
    });
  }

  breakerChanged(provider: ProviderId, model: string | null, state: BreakerState): void {
    this.breakerChanges.inc({ provider, model: model ?? '*', state });
  }

  stateIs(provider: ProviderId, state: HealthState): void {
    this.providerState.set({ provider }, STATE_VALUE[state]);
  }
}
