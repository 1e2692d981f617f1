import type { ProviderId } from '../common/provider-ids.js';

/** A provider as the probes see it: answering normally, answering but slow or flaky, or not usable. */
export type HealthState = 'healthy' | 'degraded' | 'down';

/** One probe's result, as kept in `provider_health`. */
export interface ProbeRecord {
  provider: ProviderId;
  checkedAt: Date;
  state: HealthState;
  /** The provider's HTTP status, or null when it could not be reached. */
  httpStatus: number | null;
  latencyMs: number | null;
  /** Why it is not healthy: `timeout`, `connection_error`, `auth`, `rate_limited`, `slow`, `http_503`, … */
  error: string | null;
}

export type BreakerState = 'closed' | 'open' | 'half_open';
