import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Redis } from 'ioredis';
import type { Clock } from '../common/clock.js';
import type { RedisService } from '../redis/redis.service.js';

interface Record {
  totalHits: number;
  timeToExpire: number;
  isBlocked: boolean;
  timeToBlockExpire: number;
}

/**
 * One counter per window, atomically: the key names the window, so the script never reads time (Redis's own
 * clock cannot be moved by a test, the application's `Clock` can). The first hit sets the expiry, which only
 * cleans up: a window ends when the clock reaches the next window index, not when the key expires.
 */
const INCREMENT_SCRIPT = `
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return hits`;

function record(hits: number, msLeft: number, limit: number): Record {
  const seconds = Math.max(1, Math.ceil(msLeft / 1000));
  return { totalHits: hits, timeToExpire: seconds, isBlocked: hits > limit, timeToBlockExpire: seconds };
}

/**
 * Fixed windows shared by every instance: window `floor(now / ttl)` on the clock, one Redis counter each, so N
 * instances share one exact count. The counter outlives its window by one more window: an instance whose clock
 * lags a little still counts into the same key instead of a fresh one.
 *
 * While Redis is down (degraded mode) each instance counts alone, up to its share of the limit: the limit divided
 * by the number of instances Redis last knew. The limit then holds across instances as long as the load balancer
 * spreads a key's requests evenly; no request gets a 5xx because Redis is away.
 */
export class RedisWindowStorage implements ThrottlerStorage {
  private readonly redis: Redis;
  private readonly alone: MemoryWindowStorage;

  constructor(
    private readonly service: RedisService,
    private readonly clock: Clock,
  ) {
    this.redis = service.client!;
    this.redis.defineCommand('confluxWindowIncr', { numberOfKeys: 1, lua: INCREMENT_SCRIPT });
    this.alone = new MemoryWindowStorage(clock);
  }

  async increment(key: string, ttl: number, limit: number): Promise<Record> {
    if (this.service.available) {
      const incr = (
        this.redis as unknown as { confluxWindowIncr(k: string, expireMs: number): Promise<number> }
      ).confluxWindowIncr;
      const now = this.clock.now();
      const index = Math.floor(now / ttl);
      const msLeft = (index + 1) * ttl - now;
      try {
        const hits = await incr.call(this.redis, `conflux:rl:${key}:${index}`, msLeft + ttl);
        return record(hits, msLeft, limit);
      } catch {
        // Redis went away mid-request: this instance's share, below
      }
    }
    const share = Math.max(1, Math.floor(limit / this.service.instances));
    const own = await this.alone.increment(key, ttl, share);
    // Said in the limit's terms, so x-ratelimit-remaining-requests stays meaningful.
    return { ...own, totalHits: Math.ceil((own.totalHits * limit) / share) };
  }
}

/** Fixed windows of one instance: the first hit opens a window of `ttl` ms on the clock. */
export class MemoryWindowStorage implements ThrottlerStorage {
  private readonly windows = new Map<string, { hits: number; resetAt: number }>();
  private sweeps = 0;

  constructor(private readonly clock: Clock) {}

  increment(key: string, ttl: number, limit: number): Promise<Record> {
    const now = this.clock.now();
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { hits: 0, resetAt: now + ttl };
      this.windows.set(key, window);
    }
    window.hits += 1;
    if (++this.sweeps % 1000 === 0) {
      for (const [k, w] of this.windows) {
        if (w.resetAt <= now) {
          this.windows.delete(k);
        }
      }
    }
    return Promise.resolve(record(window.hits, window.resetAt - now, limit));
  }
}
