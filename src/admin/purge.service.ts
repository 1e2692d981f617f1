import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AccountsService } from '../accounts/accounts.service.js';
import { AdjustmentsService } from '../billing/adjustments.service.js';
import { AlertsService } from '../billing/alerts/alerts.service.js';
import { Clock } from '../common/clock.js';
import { KeysService } from '../keys/keys.service.js';

/** The advisory lock id of the purge (shared by every instance). */
const PURGE_LOCK = 7_201_015;
/** Accounts purged per transaction: a long backlog is worked through in short transactions. */
const BATCH = 50;

/**
 * Purges accounts 30 days after their deletion was requested: their keys, usage events, rollups and stored answers,
 * and their personal data (the email becomes a tombstone, the password hash goes). The ledger and the Stripe ids
 * stay: financial records the law requires, now naming no one. Runs on one instance at a time (a transaction-level
 * advisory lock: another instance's run gives up at once), by the injected clock; purging twice is a no-op (a
 * purged account is `deleted`, no longer due).
 */
@Injectable()
export class PurgeService {
  private readonly logger = new Logger(PurgeService.name);
  private running: Promise<number> | null = null;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly accounts: AccountsService,
    private readonly keys: KeysService,
    private readonly adjustments: AdjustmentsService,
    private readonly alerts: AlertsService,
    private readonly clock: Clock,
  ) {}

  @Interval('account-purge', 10 * 60_000)
  async tick(): Promise<void> {
    try {
      await this.purgeDue();
    } catch (error) {
      this.logger.warn(`account purge failed: ${(error as Error).message}`);
    }
  }

  /** Purges every account due at `now`; returns how many this instance purged (0 when another one is at it). */
  purgeDue(now = this.clock.date()): Promise<number> {
    this.running ??= this.run(now).finally(() => (this.running = null));
    return this.running;
  }

  private async run(now: Date): Promise<number> {
    let total = 0;
    for (;;) {
      const purged = await this.dataSource.transaction(async (m) => {
        const [lock] = (await m.query(`SELECT pg_try_advisory_xact_lock($1) AS locked`, [
          PURGE_LOCK,
        ])) as Array<{
          locked: boolean;
        }>;
        if (!lock.locked) {
          return 0;
        }
        const due = await this.accounts.dueForPurge(m, now, BATCH);
        for (const id of due) {
          await this.keys.deleteAllOf(m, id);
          await this.adjustments.forgetUsage(m, id);
          await this.alerts.forget(m, id);
          await this.accounts.tombstone(m, id, now);
        }
        return due.length;
      });
      total += purged;
      if (purged < BATCH) {
        break;
      }
    }
    if (total > 0) {
      this.logger.log(`purged ${total} deleted accounts`);
    }
    return total;
  }
}
