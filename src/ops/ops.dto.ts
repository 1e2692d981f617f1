import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';

/** The reference of the operations routes (documentation only: the controller and terminus build the answers). */

export class LiveDto {
  @ApiProperty({ enum: ['ok'] }) status!: 'ok';
}

/** One check of readiness: `instance`, `database` or `redis`. */
export class HealthIndicatorDto {
  @ApiProperty({ enum: ['up', 'down'] }) status!: 'up' | 'down';
  @ApiPropertyOptional({ description: 'database: how long the ping took, in ms.' }) responseTime?: number;
  @ApiPropertyOptional({ enum: ['serving', 'draining'], description: 'instance: shutting down or not.' })
  state?: string;
  @ApiPropertyOptional({
    description:
      'redis: `shared` (counters and revocations shared by every instance), `degraded` (Redis is down: this ' +
      'instance serves on its own) or not configured.',
  })
  mode?: string;
  @ApiPropertyOptional({ description: 'redis: `down` when the connection is lost.' }) connection?: string;
  @ApiPropertyOptional({ description: 'redis in degraded mode: how many instances share the limits.' })
  instances?: number;
  @ApiPropertyOptional({ description: 'Why a check failed.' }) message?: string;
}

const indicators = {
  type: 'object',
  additionalProperties: { $ref: getSchemaPath(HealthIndicatorDto) },
} as const;

/** What `@nestjs/terminus` answers: each check in `details`, and split into `info` (up) and `error` (down). */
export class ReadinessDto {
  @ApiProperty({ enum: ['ok', 'error'] }) status!: 'ok' | 'error';
  @ApiProperty({ ...indicators, description: 'The checks that are up.' }) info!: object;
  @ApiProperty({ ...indicators, description: 'The checks that are down (empty when ready).' }) error!: object;
  @ApiProperty({ ...indicators, description: 'Every check.' }) details!: object;
}

const database = { responseTime: 1, status: 'up' };
const redis = { mode: 'not configured: this instance shares nothing', status: 'up' };
const serving = { state: 'serving', status: 'up' };
const draining = { state: 'draining', status: 'down' };

/** Real answers of `/health/ready`: serving, and shutting down. */
export const READY_EXAMPLE = {
  summary: 'Ready',
  value: {
    status: 'ok',
    info: { instance: serving, database, redis },
    error: {},
    details: { instance: serving, database, redis },
  },
};
export const UNREADY_EXAMPLE = {
  summary: 'Shutting down (a database out of reach shows in `error.database` the same way)',
  value: {
    status: 'error',
    info: { database, redis },
    error: { instance: draining },
    details: { database, redis, instance: draining },
  },
};

/** The start of a real `/metrics` answer (Prometheus text format; a `#` line is a comment). */
export const METRICS_EXAMPLE = [
  '# HELP conflux_http_requests_total HTTP requests by route, method and status',
  '# TYPE conflux_http_requests_total counter',
  'conflux_http_requests_total{route="/auth/signup",method="POST",status="201"} 1',
  'conflux_http_requests_total{route="/v1/keys",method="POST",status="201"} 2',
  'conflux_http_requests_total{route="/health/live",method="GET",status="200"} 1',
  'conflux_http_requests_total{route="/health/ready",method="GET",status="200"} 1',
  '',
  '# HELP conflux_http_request_duration_seconds HTTP request latency by route, method and status',
  '# TYPE conflux_http_request_duration_seconds histogram',
  'conflux_http_request_duration_seconds_bucket{le="0.005",route="/auth/signup",method="POST",status="201"} 0',
  '# …',
  '',
].join('\n');
