import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { Clock } from '../common/clock.js';
import type { ProviderId } from '../common/provider-ids.js';
import { RedisService } from '../redis/redis.service.js';

/** Broadcast when a provider is drained or restored: every instance re-reads the drains at once. */
const DRAINS_CHANNEL = 'conflux:providers:drains';

export interface Drain {
  provider: ProviderId;
  drainedAt: Date;
  reason: string;
}

/**
 * Providers taken out of routing by staff (`provider_drains`). Each instance keeps the set in memory for the
 * router: re-read on every health snapshot refresh (a few seconds; enough without Redis) and at once when a
 * drain or restore is broadcast.
 */
@Injectable()
export class ProviderDrains implements OnModuleInit {
  private drained = new Map<ProviderId, Drain>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly redis: RedisService,
    private readonly clock: Clock,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.redis.subscribe(DRAINS_CHANNEL, () => void this.refresh().catch(() => undefined));
    await this.refresh();
  }

  isDrained(provider: ProviderId): boolean {
    return this.drained.has(provider);
  }

  get(provider: ProviderId): Drain | undefined {
    return this.drained.get(provider);
  }

  /** Drains the provider (a no-op when it is drained already); returns the drain in force. */
  async drain(provider: ProviderId, reason: string): Promise<{ drain: Drain; changed: boolean }> {
    const rows = (await this.dataSource.query(
      `INSERT INTO provider_drains (provider, drained_at, reason) VALUES ($1, $2, $3)
       ON CONFLICT (provider) DO NOTHING RETURNING provider`,
      [provider, this.clock.date(), reason],
    )) as unknown[];
    await this.refresh();
    await this.redis.publish(DRAINS_CHANNEL, provider);
    return { drain: this.drained.get(provider)!, changed: rows.length > 0 };
  }

  /** Puts the provider back into routing; the drain it ended, or null when it was not drained. */
  async restore(provider: ProviderId): Promise<Drain | null> {
    const before = (await this.read()).get(provider) ?? null;
    await this.dataSource.query(`DELETE FROM provider_drains WHERE provider = $1`, [provider]);
    await this.refresh();
    await this.redis.publish(DRAINS_CHANNEL, provider);
    return before;
  }

  async refresh(): Promise<void> {
    this.drained = await this.read();
  }

  private async read(): Promise<Map<ProviderId, Drain>> {
    const rows = (await this.dataSource.query(
      `SELECT provider, drained_at, reason FROM provider_drains`,
    )) as Array<{ provider: ProviderId; drained_at: Date | string; reason: string }>;
    return new Map(
      rows.map((r) => [
        r.provider,
        { provider: r.provider, drainedAt: new Date(r.drained_at), reason: r.reason },
      ]),
    );
  }
}
