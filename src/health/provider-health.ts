import type { ProviderId } from '../common/provider-ids.js';
import type { ProviderFailure } from '../providers/types.js';

/** What the router asks about health, and what live traffic tells it back (passive health). */
export abstract class ProviderHealth {
  /** 0 healthy, 1 degraded, Infinity when down or its circuit is open (the router skips it). */
  abstract rank(provider: ProviderId, providerModel: string): number;
  abstract recordSuccess(provider: ProviderId, providerModel: string, latencyMs: number): void;
  abstract recordFailure(provider: ProviderId, providerModel: string, failure: ProviderFailure): void;
  /** A request's failover order passed over this provider's deployment without trying it (rank Infinity). */
  abstract recordSkipped(provider: ProviderId): void;
}
