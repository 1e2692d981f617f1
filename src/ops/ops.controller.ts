import { Controller, Get, Header, HttpException, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiExtraModels, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  type HealthCheckResult,
  HealthIndicatorService,
  type HealthIndicatorResult,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { ErrorCode } from '../common/errors.js';
import { ApiErrors } from '../common/openapi.js';
import { RedisService } from '../redis/redis.service.js';
import { Lifecycle } from './lifecycle.service.js';
import { MetricsService } from './metrics.service.js';
import { MetricsTokenGuard } from './metrics-token.guard.js';
import {
  HealthIndicatorDto,
  LiveDto,
  METRICS_EXAMPLE,
  READY_EXAMPLE,
  ReadinessDto,
  UNREADY_EXAMPLE,
} from './ops.dto.js';

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
  @ApiResponse({ status: 200, type: LiveDto, example: { status: 'ok' } })
  @ApiErrors(ErrorCode.Internal)
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('health/ready')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({
    summary: 'Readiness: the database answers and the instance is not shutting down (503 otherwise)',
    description:
      'Redis being down does not make an instance unready: it serves in a degraded mode, said in `details.redis`.',
  })
  @ApiExtraModels(HealthIndicatorDto)
  @ApiResponse({ status: 200, type: ReadinessDto, examples: { ready: READY_EXAMPLE } })
  @ApiResponse({
    status: 503,
    type: ReadinessDto,
    description:
      'Not ready: shutting down, or the database out of reach (the checks that failed are in `error`).',
    examples: { unready: UNREADY_EXAMPLE },
  })
  @ApiErrors(ErrorCode.Internal)
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
  @ApiOperation({
    summary: 'Prometheus metrics (text format)',
    description:
      'Requests by route, method and status (`conflux_http_requests_total`, `conflux_http_request_duration_seconds`), ' +
      'per model served and provider (catalog ids only), of live keys: tokens (`conflux_model_tokens_total`, ' +
      '`kind` prompt or completion) and the micro-credits charged (`conflux_model_credits_micro_total`); ' +
      'providers (`conflux_failovers_total`: attempts that failed and were failed over; ' +
      '`conflux_failover_skipped_total`: providers passed over untried, down or circuit open; ' +
      '`conflux_circuit_breaker_transitions_total`, ' +
      '`conflux_upstream_latency_seconds`, `conflux_health_probes_total`, `conflux_provider_health_state`, ' +
      '`conflux_provider_unknown_finish_reasons_total`), `conflux_redis_degraded`, and the Node.js process ' +
      '(`conflux_process_*`, `conflux_nodejs_*`). With `METRICS_TOKEN` set it needs `Authorization: Bearer ' +
      '<token>` (401 otherwise); without, it is open: keep it off the public network.',
  })
  @ApiResponse({
    status: 200,
    description: 'The metrics, `text/plain; version=0.0.4`.',
    content: { 'text/plain': { schema: { type: 'string' }, example: METRICS_EXAMPLE } },
  })
  @ApiErrors(ErrorCode.Internal, ErrorCode.InvalidApiKey)
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
