import type { ProviderId } from '../common/provider-ids.js';
import type { ProviderFailure } from '../providers/types.js';
import type { LatencyEstimate, LatencySample } from './latency.js';

/** What the router asks about health, and what live traffic tells it back (passive health). */
export abstract class ProviderHealth {
  /** 0 healthy, 1 degraded, Infinity when down or its circuit is open (the router skips it). */
  abstract rank(provider: ProviderId, providerModel: string): number;
  abstract recordSuccess(provider: ProviderId, providerModel: string, latencyMs: number): void;
  abstract recordFailure(provider: ProviderId, providerModel: string, failure: ProviderFailure): void;
  /** A request's failover order passed over this provider's deployment without trying it (rank Infinity). */
  abstract recordSkipped(provider: ProviderId): void;

  /** A live request's timing, for the latency estimate. */
  abstract recordLatency(provider: ProviderId, providerModel: string, sample: LatencySample): void;
  /** What this instance expects of the deployment's speed, or null when it knows nothing recent. */
  abstract latency(provider: ProviderId, providerModel: string): LatencyEstimate | null;
  /**
   * Called before `rank` for a request's deployments: a circuit shared across instances whose cool-down has
   * passed is given its one half-open trial here (a Redis round trip, only then).
   */
  abstract prepare(
    deployments: ReadonlyArray<{ provider: ProviderId; providerModel: string }>,
  ): Promise<void>;
}
