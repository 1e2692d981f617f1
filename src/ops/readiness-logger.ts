import { Injectable, Logger, type LoggerService } from '@nestjs/common';

/**
 * Terminus's logger. An instance that is not ready (draining, its database away) says so at `warn`: it is a state
 * an operator expects during a deploy or an outage, already explained by the lines of whatever caused it, not an
 * error of the gateway. Everything else terminus says keeps its level.
 */
@Injectable()
export class ReadinessLogger implements LoggerService {
  private readonly logger = new Logger('Readiness');

  log(message: unknown): void {
    this.logger.log(message);
  }

  error(message: unknown): void {
    this.logger.warn(message);
  }

  warn(message: unknown): void {
    this.logger.warn(message);
  }
}
