import { createHash, timingSafeEqual } from 'node:crypto';
import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { CONFIG, type Config } from '../config/config.js';

/** Digests compare in constant time whatever the lengths (`timingSafeEqual` wants equal lengths). */
const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * `/metrics` with `METRICS_TOKEN` set answers only `Authorization: Bearer <token>` (what Prometheus sends with
 * `authorization.credentials`); unset, it stays open, which production start-ups warn about.
 */
@Injectable()
export class MetricsTokenGuard implements CanActivate, OnApplicationBootstrap {
  private readonly logger = new Logger('Metrics');
  private readonly expected: Buffer | undefined;

  constructor(@Inject(CONFIG) private readonly config: Config) {
    this.expected = config.metricsToken === undefined ? undefined : digest(config.metricsToken);
  }

  onApplicationBootstrap(): void {
    if (this.expected === undefined && this.config.production) {
      this.logger.warn(
        'METRICS_TOKEN is not set: /metrics is open to anyone who reaches this server. Set it, or keep /metrics ' +
          'off the public network',
      );
    }
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.expected === undefined) {
      return true;
    }
    const header = context.switchToHttp().getRequest<FastifyRequest>().headers.authorization ?? '';
    const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    if (token !== undefined && timingSafeEqual(digest(token), this.expected)) {
      return true;
    }
    throw new GatewayError(
      ErrorCode.InvalidApiKey,
      'This endpoint needs the metrics token: Authorization: Bearer <METRICS_TOKEN>.',
      { headers: { 'www-authenticate': 'Bearer' } },
    );
  }
}
