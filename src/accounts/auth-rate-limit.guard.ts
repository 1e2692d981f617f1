import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { InjectThrottlerStorage, type ThrottlerStorage } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { CONFIG, type Config } from '../config/config.js';

/**
 * Sign-up and login per client IP: password guessing is slow, and each attempt costs an argon2 hash, so a flood
 * cannot eat the CPU. Shares the rate-limit counters (Redis when configured).
 */
@Injectable()
export class AuthRateLimitGuard implements CanActivate {
  constructor(
    @InjectThrottlerStorage() private readonly storage: ThrottlerStorage,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const limit = this.config.rateLimit.authPerMinute;
    const result = await this.storage.increment(`auth:${request.ip}`, 60_000, limit, 60_000, 'auth');
    if (result.isBlocked) {
      throw new GatewayError(
        ErrorCode.RateLimitExceeded,
        `Too many sign-up or login attempts from this address. Try again in ${result.timeToBlockExpire}s.`,
        { headers: { 'retry-after': String(result.timeToBlockExpire) } },
      );
    }
    return true;
  }
}
