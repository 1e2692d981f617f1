import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { CONFIG, type Config } from '../config/config.js';

/**
 * Bounds on what this instance has in flight to providers: in all (`UPSTREAM_MAX_IN_FLIGHT`), and per API key
 * (`KEY_MAX_CONCURRENT`), so one key's hundred slow streams cannot starve the other keys. Past a bound a live
 * request is refused at once (503 for the instance, 429 for the key, both with `retry-after`), before any credit
 * is held, instead of queueing silently in a connection pool while its credits wait.
 */
@Injectable()
export class UpstreamGate {
  private inFlight = 0;
  /** Requests in flight per key (a key leaves the map when it has none: the map stays as small as the traffic). */
  private readonly perKey = new Map<string, number>();

  constructor(@Inject(CONFIG) private readonly config: Config) {}

  get current(): number {
    return this.inFlight;
  }

  /** Takes a place for the key's request, or throws; the returned function gives it back (once). */
  enter(keyId: string): () => void {
    const { maxInFlight, maxPerKey } = this.config.upstream;
    if (this.inFlight >= maxInFlight) {
      throw new GatewayError(
        ErrorCode.ServiceUnavailable,
        `This gateway instance has ${maxInFlight} requests in flight to providers, its limit. Please retry shortly.`,
        { headers: { 'retry-after': '1' } },
      );
    }
    const mine = this.perKey.get(keyId) ?? 0;
    if (mine >= maxPerKey) {
      throw new GatewayError(
        ErrorCode.RateLimitExceeded,
        `This API key already has ${maxPerKey} requests in progress, the most one key may have at once. Retry ` +
          'when one of them has finished.',
        { code: 'concurrency_limit_exceeded', headers: { 'retry-after': '1' } },
      );
    }
    this.inFlight += 1;
    this.perKey.set(keyId, mine + 1);
    let left = false;
    return () => {
      if (left) {
        return;
      }
      left = true;
      this.inFlight -= 1;
      const now = (this.perKey.get(keyId) ?? 1) - 1;
      if (now === 0) {
        this.perKey.delete(keyId);
      } else {
        this.perKey.set(keyId, now);
      }
    };
  }
}
