import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Redis } from 'ioredis';

interface Record {
  totalHits: number;
  timeToExpire: number;
  isBlocked: boolean;
  timeToBlockExpire: number;
}

/**
 * Fixed-window counters: the first hit opens a window of `ttl` ms; hits past `limit` inside it are refused
 * until the window ends. The Redis variant is one atomic Lua script, so N instances share one exact count.
 */
const INCREMENT_SCRIPT = `
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {hits, ttl}`;

function record(hits: number, msLeft: number, limit: number): Record {
  const seconds = Math.max(1, Math.ceil(msLeft / 1000));
  return { totalHits: hits, timeToExpire: seconds, isBlocked: hits > limit, timeToBlockExpire: seconds };
}

export class RedisWindowStorage implements ThrottlerStorage {
  constructor(private readonly redis: Redis) {
    this.redis.defineCommand('confluxWindowIncr', { numberOfKeys: 1, lua: INCREMENT_SCRIPT });
  }

  async increment(key: string, ttl: number, limit: number): Promise<Record> {
    const incr = (
      this.redis as unknown as { confluxWindowIncr(k: string, ttl: number): Promise<[number, number]> }
    ).confluxWindowIncr;
    const [hits, msLeft] = await incr.call(this.redis, `conflux:rl:${key}`, ttl);
    return record(hits, msLeft, limit);
  }
}

export class MemoryWindowStorage implements ThrottlerStorage {
  private readonly windows = new Map<string, { hits: number; resetAt: number }>();
  private sweeps = 0;

  increment(key: string, ttl: number, limit: number): Promise<Record> {
    const now = Date.now();
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
