import { type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerModuleOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { Config } from '../config/config.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { describeWindow } from './window-text.js';

/**
 * A key's requests per window (the throttler's `limit`, resolved per request): its plan's, or its own
 * `rate_limit_rpm` when lower (stated per minute, so scaled to the window when `RATE_LIMIT_WINDOW_MS` is not 60 s).
 */
export function keyLimit(config: Config, context: ExecutionContext): number {
  const auth = context.switchToHttp().getRequest<FastifyRequest>().auth;
  if (!auth) {
    return Number.POSITIVE_INFINITY;
  }
  const plan = config.rateLimit.perPlan[auth.plan];
  const rpm = auth.key?.rateLimitRpm;
  if (rpm == null) {
    return plan;
  }
  return Math.min(plan, Math.max(1, Math.floor((rpm * config.rateLimit.windowMs) / 60_000)));
}

/** `6m0s`, `12s`: the duration format of OpenAI's `x-ratelimit-reset-*` headers. */
export function formatReset(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  return minutes > 0 ? `${minutes}m${rest}s` : `${rest}s`;
}

/**
 * Per-key request limit (per plan, configurable), after the auth guard. Sets the headers the OpenAI SDK reads
 * on every answer, and refuses the request past the limit with 429 `rate_limit_exceeded` and `retry-after`.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
  ) {
    super(options, storage, reflector);
  }

  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const { context, ttl, throttler, limit } = props;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const auth = request.auth;
    if (!auth?.key) {
      return true; // dashboard sessions are not metered per key
    }
    // One count per key across every route (the throttler's own key would count each route handler apart).
    const key = `key:${auth.key.id}`;
    const result = await this.storageService.increment(key, ttl, limit, ttl, throttler.name ?? 'default');
    const remaining = Math.max(0, limit - result.totalHits);
    const headers = {
      'x-ratelimit-limit-requests': String(limit),
      'x-ratelimit-remaining-requests': String(remaining),
      'x-ratelimit-reset-requests': formatReset(result.timeToExpire),
    };
    void reply.headers(headers);
    if (result.isBlocked) {
      throw new GatewayError(
        ErrorCode.RateLimitExceeded,
        `Rate limit reached for requests on key ${auth.key.publicId}: limit ${limit} per ${describeWindow(ttl)}. ` +
          `Please try again in ${result.timeToBlockExpire}s.`,
        { headers: { ...headers, 'retry-after': String(result.timeToBlockExpire) } },
      );
    }
    return true;
  }
}
