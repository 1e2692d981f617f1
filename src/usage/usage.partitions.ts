import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { Clock } from '../common/clock.js';
import { isUnreachable } from '../common/unreachable.js';
import { CONFIG, type Config } from '../config/config.js';
import { UsageRepository } from './usage.repository.js';

const DAY_MS = 86_400_000;

/**
 * Keeps `usage_events`' monthly partitions: this month's and the next one exist ahead of time (a month without its
 * partition would still be written, into the default partition, and moved when its partition is made), and raw
 * events older than `USAGE_RETENTION_DAYS` are dropped a partition at a time (the hourly and daily rollups stay). Every
 * instance runs it; the SQL functions serialise on an advisory lock, so they never race.
 */
@Injectable()
export class UsagePartitions implements OnApplicationBootstrap {
  private readonly logger = new Logger(UsagePartitions.name);

  constructor(
    private readonly usage: UsageRepository,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.maintain().catch((error: Error) => {
      this.logger.warn(`could not prepare usage partitions at start: ${error.message}`);
    });
  }

  @Interval('usage-partitions', 60 * 60_000)
  async tick(): Promise<void> {
    try {
      await this.maintain();
    } catch (error) {
      if (!isUnreachable(error)) {
        throw error;
      }
    }
  }

  /** Creates this month's and next month's partitions, drops what is past retention; returns what changed. */
  async maintain(now = this.clock.date()): Promise<{ created: number; dropped: number }> {
    let created = 0;
    for (const ahead of [0, 1]) {
      const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + ahead, 1));
      if (await this.usage.ensurePartition(month)) {
        created++;
      }
    }
    const dropped = await this.usage.dropBefore(
      new Date(now.getTime() - this.config.usage.retentionDays * DAY_MS),
    );
    if (created > 0 || dropped > 0) {
      this.logger.log(`usage partitions: ${created} created, ${dropped} past retention dropped`);
    }
    return { created, dropped };
  }
}
