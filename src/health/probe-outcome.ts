import type { ProviderFailure } from '../providers/types.js';
import type { HealthState } from './health.types.js';

/** What one probe saw, before history is taken into account. */
export type ProbeOutcome =
  | { kind: 'ok'; httpStatus: number; latencyMs: number }
  | { kind: 'failed'; httpStatus: number | null; latencyMs: number | null; failure: ProviderFailure };

export interface ProbeVerdict {
  state: HealthState;
  error: string | null;
  /** Our own key was refused: a configuration error, not an outage. */
  configurationError: boolean;
}

/** Statuses that say "not now, you are over your limit" (Groq's 498: flex capacity): never an outage alone. */
function isRateLimit(failure: ProviderFailure): boolean {
  return failure.status === 429 || failure.status === 498;
}

/**
 * The state a probe puts its provider in:
 * - our key refused (401/403, Gemini's 400 API_KEY_INVALID: the adapter maps them to `auth`) → down, and a
 *   configuration error;
 * - 429 → degraded: the provider answers, it only limits us, so 429s never take it down;
 * - any other failure (connection refused, timeout, 5xx, …) → down;
 * - an answer slower than `degradedLatencyMs`, or a recovery after a failed probe among the `previous` ones
 *   (newest first) → degraded; otherwise healthy.
 */
export function judgeProbe(
  outcome: ProbeOutcome,
  previous: readonly HealthState[],
  degradedLatencyMs: number,
): ProbeVerdict {
  if (outcome.kind === 'failed') {
    const { failure } = outcome;
    if (failure.kind === 'auth') {
      return { state: 'down', error: 'auth', configurationError: true };
    }
    if (isRateLimit(failure)) {
      return { state: 'degraded', error: 'rate_limited', configurationError: false };
    }
    const error = failure.status === 0 ? (failure.code ?? 'connection_error') : `http_${failure.status}`;
    return { state: 'down', error, configurationError: false };
  }
  if (outcome.latencyMs > degradedLatencyMs) {
    return { state: 'degraded', error: 'slow', configurationError: false };
  }
  if (previous.includes('down')) {
    return { state: 'degraded', error: 'recent_failures', configurationError: false };
  }
  return { state: 'healthy', error: null, configurationError: false };
}

/**
 * Whether a live-traffic failure counts toward opening the circuit of the provider model that failed: it is the
 * provider's fault (connection error, timeout, 5xx, 529, our key refused, …), not a rate limit nor the request's.
 */
export function countsAgainstModel(failure: ProviderFailure): boolean {
  return failure.kind !== 'client' && !isRateLimit(failure);
}

/**
 * Whether it also counts toward the provider-wide circuit: failures that concern every model of the provider
 * (unreachable, timed out, broken connection, our key refused). A 5xx may be one model's trouble: it opens that
 * model's circuit only.
 */
export function countsAgainstProvider(failure: ProviderFailure): boolean {
  return countsAgainstModel(failure) && (failure.status === 0 || failure.kind === 'auth');
}

/** A bounded label for a failover's cause, for metrics. */
export function failureReason(failure: ProviderFailure): string {
  if (failure.kind === 'auth') {
    return 'auth';
  }
  if (failure.status === 0) {
    return failure.code === 'timeout' ? 'timeout' : 'connection_error';
  }
  if (isRateLimit(failure)) {
    return 'rate_limited';
  }
  return failure.status >= 500 ? 'server_error' : 'other';
}
