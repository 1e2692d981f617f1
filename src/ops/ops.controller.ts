import { Controller, Get, Header, HttpException, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiExcludeEndpoint, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  type HealthCheckResult,
  HealthIndicatorService,
  type HealthIndicatorResult,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { RedisService } from '../redis/redis.service.js';
import { Lifecycle } from './lifecycle.service.js';
import { MetricsService } from './metrics.service.js';
import { MetricsTokenGuard } from './metrics-token.guard.js';

@ApiTags('ops')
@Controller()
export class OpsController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly metrics: MetricsService,
    private readonly indicators: HealthIndicatorService,
    private readonly lifecycle: Lifecycle,
    private readonly redis: RedisService,
  ) {}

  @Get('health/live')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('health/ready')
  @HealthCheck()
  @ApiOperation({
    summary: 'Readiness: the database answers and the instance is not shutting down (503 otherwise)',
    description:
      'Redis being down does not make an instance unready: it serves in a degraded mode, said in `details.redis`.',
  })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    try {
      return await this.health.check([
        () => this.instance(),
        () => this.db.pingCheck('database', { timeout: 3000 }),
        () => this.redisState(),
      ]);
    } catch (error) {
      if (error instanceof HttpException) {
        // Unready: the same body, with what is down, for the load balancer and the operator.
        void reply.status(error.getStatus());
        return error.getResponse() as HealthCheckResult;
      }
      throw error;
    }
  }

  private instance(): HealthIndicatorResult {
    const indicator = this.indicators.check('instance');
    return this.lifecycle.draining
      ? indicator.down({ state: 'draining' })
      : indicator.up({ state: 'serving' });
  }

  /** Up either way: without Redis this instance keeps serving, in its degraded mode. */
  private redisState(): HealthIndicatorResult {
    const indicator = this.indicators.check('redis');
    if (!this.redis.client) {
      return indicator.up({ mode: 'not configured: this instance shares nothing' });
    }
    return this.redis.available
      ? indicator.up({ mode: 'shared' })
      : indicator.up({ connection: 'down', mode: 'degraded', instances: this.redis.instances });
  }

  @Get('metrics')
  @UseGuards(MetricsTokenGuard)
  @ApiExcludeEndpoint()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
