import { EventEmitter } from 'node:events';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { Redis } from 'ioredis';
import { CONFIG, type Config } from '../config/config.js';

/**
 * The optional Redis connection. With REDIS_URL set, counters and broadcasts are shared by every instance;
 * without it, this instance keeps them in memory (`client` is null and `publish` stays in-process).
 */
@Injectable()
export class RedisService implements OnModuleDestroy {
  private readonly logger = new Logger(RedisService.name);
  readonly client: Redis | null;
  private subscriber: Redis | null = null;
  private readonly local = new EventEmitter();
  private readonly handlers = new Map<string, Array<(message: string) => void>>();

  constructor(@Inject(CONFIG) config: Config) {
    this.client = config.redisUrl
      ? new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 })
      : null;
    this.client?.on('error', (error) => this.logger.warn(`redis: ${error.message}`));
    if (config.redisUrl) {
      this.subscriber = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
      this.subscriber.on('error', (error) => this.logger.warn(`redis subscriber: ${error.message}`));
      this.subscriber.on('message', (channel: string, message: string) => {
        for (const handler of this.handlers.get(channel) ?? []) {
          handler(message);
        }
      });
    }
    this.local.setMaxListeners(100);
  }

  /** Delivers `message` to every instance's subscribers of `channel` (this one included). */
  async publish(channel: string, message: string): Promise<void> {
    if (this.client) {
      await this.client.publish(channel, message);
    } else {
      this.local.emit(channel, message);
    }
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<void> {
    if (this.subscriber) {
      const list = this.handlers.get(channel) ?? [];
      list.push(handler);
      this.handlers.set(channel, list);
      await this.subscriber.subscribe(channel);
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
    this.local.removeAllListeners();
    await Promise.all([this.client?.quit(), this.subscriber?.quit()].map((p) => p?.catch(() => undefined)));
  }
}
