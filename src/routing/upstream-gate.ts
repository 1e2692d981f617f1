import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { CONFIG, type Config } from '../config/config.js';

/**
 * A bound on the requests this instance has in flight to providers (`UPSTREAM_MAX_IN_FLIGHT`). Past it a live
 * request is refused at once with 503 and `retry-after`, before any credit is held, instead of queueing silently
 * in a connection pool while its credits wait.
 */
@Injectable()
export class UpstreamGate {
  private inFlight = 0;

  constructor(@Inject(CONFIG) private readonly config: Config) {}

  get current(): number {
    return this.inFlight;
  }

  /** Takes a place, or throws 503 when there is none; the returned function gives it back (once). */
  enter(): () => void {
    if (this.inFlight >= this.config.upstream.maxInFlight) {
      throw new GatewayError(
        ErrorCode.ServiceUnavailable,
        `This gateway instance has ${this.config.upstream.maxInFlight} requests in flight to providers, its limit. ` +
          'Please retry shortly.',
        { headers: { 'retry-after': '1' } },
      );
    }
    this.inFlight += 1;
    let left = false;
    return () => {
      if (!left) {
        left = true;
        this.inFlight -= 1;
      }
    };
  }
}
