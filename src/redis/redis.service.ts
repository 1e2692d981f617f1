import { EventEmitter } from 'node:events';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Redis } from 'ioredis';
import { Instance } from '../common/instance.js';
import { CONFIG, type Config } from '../config/config.js';

/** How often the number of live instances is read (for the per-instance share of a limit while Redis is down). */
const COUNT_INSTANCES_MS = 2_000;
/**
 * The divisor is the most instances seen over this window: an instance restarting (its heartbeat gone for a
 * moment) or a count taken just after Redis came back empty never makes the others admit more than their share.
 */
const COUNT_WINDOW_MS = 30_000;
/**
 * How long after a start or a reconnection the instances are counted: every instance writes its heartbeat each
 * second, so by then a Redis that came back empty knows them all again.
 */
const HEARTBEATS_SETTLE_MS = 2_500;

/**
 * The optional Redis connection. With REDIS_URL set, counters and broadcasts are shared by every instance;
 * without it, this instance keeps them in memory (`client` is null and `publish` stays in-process).
 *
 * Redis being configured but down is not an outage: commands fail at once instead of queueing (no offline
 * queue, a short command timeout), `available` turns false and every user of Redis falls back to its degraded
 * mode (a per-instance share of the rate limit, key lookups trusted for at most a second, tool-call state and
 * the settlement journal kept locally). Reconnection is retried every second at most, so service is shared
 * again within a few seconds of Redis returning.
 */
@Injectable()
export class RedisService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RedisService.name);
  readonly client: Redis | null;
  private subscriber: Redis | null = null;
  private readonly local = new EventEmitter();
  private readonly handlers = new Map<string, Array<(message: string) => void>>();
  private readonly changes = new EventEmitter();
  private wasAvailable = true;
  private counts: Array<{ at: number; count: number }> = [];
  private counter?: NodeJS.Timeout;
  private closing = false;

  constructor(
    @Inject(CONFIG) config: Config,
    private readonly instance: Instance,
  ) {
    const options = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 1_000,
      connectTimeout: 2_000,
      retryStrategy: (times: number) => Math.min(100 * times, 1_000),
    };
    this.client = config.redisUrl ? new Redis(config.redisUrl, options) : null;
    if (this.client) {
      this.client.on('error', (error: Error) => this.logger.debug(`redis: ${error.message}`));
      this.client.on('ready', () => this.changed());
      this.client.on('close', () => this.changed());
    }
    if (config.redisUrl) {
      this.subscriber = new Redis(config.redisUrl, {
        ...options,
        enableOfflineQueue: true,
        maxRetriesPerRequest: null,
      });
      this.subscriber.on('error', (error: Error) => this.logger.debug(`redis subscriber: ${error.message}`));
      this.subscriber.on('message', (channel: string, message: string) => {
        for (const handler of this.handlers.get(channel) ?? []) {
          handler(message);
        }
      });
    }
    this.local.setMaxListeners(100);
  }

  /** Counts the instances before this one serves: a limit shared while Redis is down is right from the start. */
  async onModuleInit(): Promise<void> {
    this.counter = setInterval(() => void this.countInstances(), COUNT_INSTANCES_MS);
    this.counter.unref();
    if (this.client) {
      const ready = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2_000);
        this.client!.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (!this.available) {
        await ready;
      }
      await this.countInstances();
    }
  }

  private countSoon(): void {
    setTimeout(() => void this.countInstances(), HEARTBEATS_SETTLE_MS).unref();
  }

  /** True without Redis (nothing to fall back from), or while Redis answers. */
  get available(): boolean {
    return !this.client || this.client.status === 'ready';
  }

  /** Redis is configured but not answering: the degraded mode is on. */
  get degraded(): boolean {
    return this.client !== null && !this.available;
  }

  /** Instances that were alive when Redis last answered (at least 1): the divisor of a shared limit. */
  get instances(): number {
    return this.counts.reduce((max, c) => Math.max(max, c.count), 1);
  }

  /** Called with `true` when Redis comes back, `false` when it goes away. */
  onAvailability(listener: (available: boolean) => void): void {
    this.changes.on('change', listener);
  }

  /**
   * Delivers `message` to every instance's subscribers of `channel` (this one included). While Redis is down
   * only this instance hears it: the others rely on their degraded mode (a second-long key cache).
   */
  async publish(channel: string, message: string): Promise<void> {
    if (this.client && this.available) {
      try {
        await this.client.publish(channel, message);
        return;
      } catch (error) {
        this.logger.warn(`could not broadcast on ${channel}: ${(error as Error).message}`);
      }
    }
    if (this.client) {
      for (const handler of this.handlers.get(channel) ?? []) {
        handler(message);
      }
    } else {
      this.local.emit(channel, message);
    }
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<void> {
    if (this.subscriber) {
      const list = this.handlers.get(channel) ?? [];
      list.push(handler);
      this.handlers.set(channel, list);
      // Queued until Redis answers; ioredis subscribes again after every reconnection.
      void this.subscriber.subscribe(channel).catch((error: Error) => {
        this.logger.warn(`could not subscribe to ${channel} yet: ${error.message}`);
      });
    } else {
      this.local.on(channel, handler);
    }
  }

  async ping(): Promise<boolean> {
    if (!this.client) {
      return true;
    }
    return (await this.client.ping()) === 'PONG';
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    clearInterval(this.counter);
    this.local.removeAllListeners();
    this.changes.removeAllListeners();
    await Promise.all([this.client?.quit(), this.subscriber?.quit()].map((p) => p?.catch(() => undefined)));
  }

  private changed(): void {
    if (this.closing) {
      return;
    }
    const now = this.available;
    if (now === this.wasAvailable) {
      return;
    }
    this.wasAvailable = now;
    if (now) {
      this.logger.log('redis is back: limits, broadcasts and state are shared again');
      this.countSoon();
    } else {
      this.logger.warn(
        'redis is unreachable: degraded mode (per-instance share of rate limits, key lookups trusted for 1 s, ' +
          'local tool-call state and settlement journal)',
      );
    }
    this.changes.emit('change', now);
  }

  /** The others' heartbeats, plus this instance (whose own heartbeat may not be written yet). */
  private async countInstances(): Promise<void> {
    if (!this.client || !this.available) {
      return;
    }
    try {
      let cursor = '0';
      let others = 0;
      const own = `conflux:instance:${this.instance.id}`;
      do {
        const [next, keys] = await this.client.scan(cursor, 'MATCH', 'conflux:instance:*', 'COUNT', 500);
        cursor = next;
        others += keys.filter((key) => key !== own).length;
      } while (cursor !== '0');
      const now = Date.now();
      this.counts = [
        ...this.counts.filter((c) => now - c.at < COUNT_WINDOW_MS),
        { at: now, count: others + 1 },
      ];
    } catch {
      // keep the last count
    }
  }
}
