import type { ServerResponse } from 'node:http';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { SseWriter } from '../chat/sse-writer.js';
import { Clock } from '../common/clock.js';
import { toErrorResponse } from '../common/error-response.js';
import { ErrorCode, GatewayError } from '../common/errors.js';
import { CONFIG, type Config } from '../config/config.js';
import type { FastifyReply } from 'fastify';
import type { AuthContext } from '../keys/auth-context.js';
import { hashKey } from '../keys/key-format.js';
import { KeysService } from '../keys/keys.service.js';
import { MetricsService } from '../ops/metrics.service.js';
import { Counter, Gauge } from 'prom-client';
import { RedisService } from '../redis/redis.service.js';
import { USAGE_CHANNEL, type UsageMessage } from './usage.publisher.js';
import { UsageRepository } from './usage.repository.js';
import { eventView } from './usage.view.js';

/** How often the feed looks at its streams (heartbeats due, keys to check again). */
const TICK_MS = 1_000;
/** Public key ids, once read (they never change): at most this many kept. */
const KEY_CACHE_LIMIT = 10_000;

/** One open usage stream. */
interface Listener {
  accountId: string;
  /** The SHA-256 of the API key it was opened with (null: a dashboard session). */
  keySha256: string | null;
  writer: SseWriter;
  lastWriteAt: number;
  lastCheckAt: number;
  closed: boolean;
}

/**
 * `GET /v1/usage/stream`: every usage event of an account, pushed to its open streams on every instance as soon as
 * its settlement commits (Redis pub/sub, or in-process without Redis and while Redis is down), with a heartbeat
 * every `usage.heartbeatMs`. A stream is closed when its key is revoked (at once through the revocation broadcast,
 * and checked again at each heartbeat in case a broadcast was lost). Memory is bounded: a client that does not
 * read is dropped once `usage.streamBufferBytes` wait for it, and an account has at most
 * `usage.maxStreamsPerAccount` streams per instance.
 */
@Injectable()
export class UsageFeed implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(UsageFeed.name);
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly publicIds = new Map<string, string>();
  private delivering: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private readonly closed: Counter<'reason'>;

  constructor(
    private readonly redis: RedisService,
    private readonly keys: KeysService,
    private readonly usage: UsageRepository,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: Config,
    metrics: MetricsService,
  ) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- read by the gauge's collect()
    const feed = this;
    new Gauge({
      name: 'conflux_usage_streams',
      help: 'Usage streams open on this instance',
      registers: [metrics.registry],
      collect() {
        this.set(feed.streams);
      },
    });
    this.closed = new Counter({
      name: 'conflux_usage_streams_closed_total',
      help: 'Usage streams the gateway closed, by reason (slow_client, key_revoked)',
      labelNames: ['reason'] as const,
      registers: [metrics.registry],
    });
  }

  async onModuleInit(): Promise<void> {
    await this.redis.subscribe(USAGE_CHANNEL, (message) => {
      // in order, one message after the other (a key's public id may need a lookup first)
      this.delivering = this.delivering.then(() => this.deliver(message));
    });
    this.keys.onRevoked((sha256) => this.closeKey(sha256));
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    for (const set of this.listeners.values()) {
      for (const listener of set) {
        this.drop(listener, { name: 'end', payload: { reason: 'shutting_down' } });
      }
    }
  }

  /** Open streams of this instance (all accounts). */
  get streams(): number {
    let count = 0;
    for (const set of this.listeners.values()) {
      count += set.size;
    }
    return count;
  }

  /**
   * Opens a usage stream for the caller on `reply`. Throws (before anything is written, so the client gets the
   * usual JSON error) when the account already has its most streams on this instance.
   */
  open(auth: AuthContext, authorization: string | undefined, reply: FastifyReply): void {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    const keySha256 = auth.via === 'key' && token ? hashKey(token) : null;
    this.attach(auth.accountId, keySha256, reply.raw, () => {
      reply.hijack();
    });
  }

  private attach(accountId: string, keySha256: string | null, raw: ServerResponse, take: () => void): void {
    const set = this.listeners.get(accountId) ?? new Set<Listener>();
    if (set.size >= this.config.usage.maxStreamsPerAccount) {
      throw new GatewayError(
        ErrorCode.RateLimitExceeded,
        `At most ${this.config.usage.maxStreamsPerAccount} usage streams may be open at once per account; close one first.`,
        { headers: { 'retry-after': '15' } },
      );
    }
    const now = this.clock.now();
    const listener: Listener = {
      accountId,
      keySha256,
      writer: new SseWriter(raw),
      lastWriteAt: now,
      lastCheckAt: now,
      closed: false,
    };
    take();
    set.add(listener);
    this.listeners.set(accountId, set);
    raw.once('close', () => this.forget(listener));
    listener.writer.open({});
    listener.writer.event('ready', { heartbeat_seconds: this.config.usage.heartbeatMs / 1000 });
  }

  /**
   * Heartbeats that are due, and keys checked again, by the injected clock. Runs every second; tests move their
   * clock and call it.
   */
  async tick(): Promise<void> {
    if (this.ticking) {
      return;
    }
    this.ticking = true;
    try {
      const now = this.clock.now();
      const checks: Array<Promise<void>> = [];
      for (const set of this.listeners.values()) {
        for (const listener of set) {
          if (now - listener.lastWriteAt >= this.config.usage.heartbeatMs) {
            this.write(listener, 'heartbeat', { time: new Date(now).toISOString() });
          }
          if (listener.keySha256 && now - listener.lastCheckAt >= this.config.usage.heartbeatMs) {
            listener.lastCheckAt = now;
            checks.push(this.check(listener, listener.keySha256));
          }
        }
      }
      await Promise.all(checks);
    } finally {
      this.ticking = false;
    }
  }

  /** Resolves once every message received so far has been written to the streams (for tests). */
  async flushed(): Promise<void> {
    await this.delivering;
  }

  private async check(listener: Listener, sha256: string): Promise<void> {
    try {
      if (!(await this.keys.stillValid(sha256))) {
        this.closeKey(sha256);
      }
    } catch (error) {
      // the database is away: the key is checked again at the next heartbeat
      this.logger.debug(`could not check a usage stream's key: ${(error as Error).message}`);
    }
  }

  private closeKey(sha256: string): void {
    const error = toErrorResponse(
      new GatewayError(ErrorCode.InvalidApiKey, 'The API key of this stream was revoked.'),
      '',
    ).body;
    for (const set of this.listeners.values()) {
      for (const listener of set) {
        if (listener.keySha256 === sha256) {
          this.closed.inc({ reason: 'key_revoked' });
          this.drop(listener, { name: 'error', payload: error });
        }
      }
    }
  }

  private async deliver(message: string): Promise<void> {
    let events: UsageMessage[];
    try {
      events = JSON.parse(message) as UsageMessage[];
    } catch {
      return;
    }
    const wanted = events.filter((e) => this.listeners.has(e.account_id));
    if (wanted.length === 0) {
      return;
    }
    await this.resolveKeys(wanted.map((e) => e.key).filter((k): k is string => k !== null));
    for (const event of wanted) {
      const { account_id: _a, key, cost_micro, ...rest } = event;
      const view = eventView({
        ...rest,
        cost_micro,
        key_id: key === null ? null : (this.publicIds.get(key) ?? null),
        created_at: event.created_at,
      });
      for (const listener of this.listeners.get(event.account_id) ?? []) {
        this.write(listener, 'usage', view);
      }
    }
  }

  private async resolveKeys(ids: string[]): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => !this.publicIds.has(id));
    if (missing.length === 0) {
      return;
    }
    try {
      for (const [id, publicId] of await this.usage.publicKeyIds(missing)) {
        if (this.publicIds.size >= KEY_CACHE_LIMIT) {
          this.publicIds.delete(this.publicIds.keys().next().value!);
        }
        this.publicIds.set(id, publicId);
      }
    } catch (error) {
      this.logger.debug(`could not read key ids for the usage stream: ${(error as Error).message}`);
    }
  }

  /** Writes an event, or drops a client that has let too much pile up unread. */
  private write(listener: Listener, name: string, payload: unknown): void {
    if (listener.closed) {
      return;
    }
    if (listener.writer.bufferedBytes > this.config.usage.streamBufferBytes) {
      this.logger.warn('a usage stream was dropped: its client does not read fast enough');
      this.closed.inc({ reason: 'slow_client' });
      this.drop(listener);
      return;
    }
    listener.writer.event(name, payload);
    listener.lastWriteAt = this.clock.now();
  }

  private drop(listener: Listener, last?: { name: string; payload: unknown }): void {
    if (listener.closed) {
      return;
    }
    if (last && listener.writer.bufferedBytes <= this.config.usage.streamBufferBytes) {
      listener.writer.close(last);
    } else {
      listener.writer.destroy();
    }
    this.forget(listener);
  }

  private forget(listener: Listener): void {
    listener.closed = true;
    const set = this.listeners.get(listener.accountId);
    set?.delete(listener);
    if (set?.size === 0) {
      this.listeners.delete(listener.accountId);
    }
  }
}
