import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Clock } from '../../common/clock.js';
import { CONFIG, type Config } from '../../config/config.js';
import { OutboxRepository } from './outbox.repository.js';
import { MeterEventRefused, StripeApi } from './stripe.api.js';

/** Accounts queued and reports sent per tick: a tick stays short whatever the backlog. */
const BATCH = 100;
const BACKOFF_BASE_MS = 10_000;
const BACKOFF_MAX_MS = 3_600_000;
/** Stripe refuses meter events older than 35 days: a report still unsent after that can never land. */
const MAX_AGE_MS = 34 * 86_400_000;

/**
 * Reports overage to Stripe Billing meters every `OVERAGE_REPORT_INTERVAL_MS`: first queues, per paid account, the
 * whole credits past its allocation not reported yet (one report per account per tick, never one per request),
 * then sends what the outbox holds. A report failing on a Stripe fault is retried with backoff until accepted;
 * its identifier makes a resend (after a crash between sending and marking it sent) harmless.
 */
@Injectable()
export class OverageReporter implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(OverageReporter.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;

  constructor(
    private readonly outbox: OutboxRepository,
    private readonly stripe: StripeApi,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  onModuleInit(): void {
    if (!this.stripe.configured) {
      return;
    }
    this.timer = setInterval(() => {
      void this.tick().catch((error: unknown) =>
        this.logger.warn({ err: (error as Error).message }, 'overage report failed; retried next tick'),
      );
    }, this.config.billing.overageReportIntervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One round (overlapping calls share it): queue new overage, send what is due. */
  tick(): Promise<void> {
    this.running ??= this.round().finally(() => (this.running = null));
    return this.running;
  }

  /** Sends what is queued, without queueing anything new (also used to finish after a period's last report). */
  async flush(): Promise<void> {
    await this.send();
  }

  private async round(): Promise<void> {
    if (!this.stripe.configured) {
      return;
    }
    const now = this.clock.date();
    for (const accountId of await this.outbox.accountsWithOverage(BATCH)) {
      await this.outbox.queue(accountId, now);
    }
    await this.send();
  }

  private async send(): Promise<void> {
    const now = this.clock.date();
    for (const report of await this.outbox.claimDue(now, BATCH)) {
      if (now.getTime() - report.eventAt.getTime() > MAX_AGE_MS) {
        this.logger.error(
          { identifier: report.identifier },
          'overage report too old for Stripe: needs a manual invoice item',
        );
        await this.outbox.markFailed(report.id, new Date(now.getTime() + 100 * 365 * 86_400_000), 'too old');
        continue;
      }
      try {
        await this.stripe.sendMeterEvent({
          identifier: report.identifier,
          customer: report.customer,
          value: report.value,
          timestamp: Math.floor(report.eventAt.getTime() / 1000),
        });
        await this.outbox.markSent(report.id, this.clock.date());
      } catch (error) {
        const refused = error instanceof MeterEventRefused;
        const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(report.attempts, 20));
        this.logger.warn(
          { identifier: report.identifier, attempts: report.attempts + 1, err: (error as Error).message },
          refused
            ? 'Stripe refused an overage report; retrying later'
            : 'overage report not sent; retrying later',
        );
        await this.outbox.markFailed(report.id, new Date(now.getTime() + delay), (error as Error).message);
      }
    }
  }
}
