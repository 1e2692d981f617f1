import { Injectable, Logger, Module } from '@nestjs/common';
import { RedisService } from '../redis/redis.service.js';

/** The channel every instance's usage stream listens on. */
export const USAGE_CHANNEL = 'conflux:usage:events';

/**
 * A usage event as broadcast to the stream: what `usage_events` stores (metadata only, never content), the key
 * by its internal id (each instance shows it by its public id).
 */
export interface UsageMessage {
  account_id: string;
  request_id: string;
  created_at: string;
  key: string | null;
  test: boolean;
  model_requested: string;
  model_served: string | null;
  provider: string | null;
  attempts: number;
  streamed: boolean;
  status: string;
  http_status: number;
  error_code: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  cost_micro: string;
  latency_ms: number;
  ttft_ms: number | null;
  estimated: boolean;
}

/**
 * Announces usage events once they are committed, to every instance (Redis pub/sub; in-process without Redis or
 * while it is down). Best effort: the table is the record, the stream a live view of it.
 */
@Injectable()
export class UsagePublisher {
  private readonly logger = new Logger(UsagePublisher.name);

  private readonly listeners: Array<(accountIds: ReadonlySet<string>) => void> = [];

  constructor(private readonly redis: RedisService) {}

  /** Told, on this instance, which accounts had live usage committed (alerts look at those: an in-memory set). */
  onLanded(listener: (accountIds: ReadonlySet<string>) => void): void {
    this.listeners.push(listener);
  }

  landed(events: readonly UsageMessage[]): void {
    if (events.length === 0) {
      return;
    }
    if (this.listeners.length > 0) {
      const accounts = new Set(events.filter((e) => !e.test).map((e) => e.account_id));
      this.listeners.forEach((listener) => listener(accounts));
    }
    this.redis.publish(USAGE_CHANNEL, JSON.stringify(events)).catch((error: Error) => {
      this.logger.warn(`could not announce ${events.length} usage events: ${error.message}`);
    });
  }
}

/** The publisher alone, for the settlement writer (billing) to import without the rest of usage. */
@Module({ providers: [UsagePublisher], exports: [UsagePublisher] })
export class UsagePublisherModule {}
