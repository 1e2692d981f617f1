import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { MICRO_PER_CREDIT } from '../../catalog/credits.js';
import { lockBillingRow, queueOverage } from '../billing-periods.js';
import { rowsOf } from '../sql.js';

export interface OutboxRow {
  id: string;
  identifier: string;
  customer: string;
  value: bigint;
  eventAt: Date;
  attempts: number;
}

/** How long a claimed report is left to its sender before another may take it (a sender that died). */
const CLAIM_MS = 120_000;

/** The overage meter-event outbox: reports queued in the transaction that decides them, sent until accepted. */
@Injectable()
export class OutboxRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Paid accounts with at least one whole credit of overage not queued yet. */
  async accountsWithOverage(limit: number): Promise<string[]> {
    const rows = (await this.dataSource.query(
      `SELECT id FROM accounts
        WHERE plan <> 'free' AND stripe_customer_id IS NOT NULL
          AND -balance_micro >= (overage_reported_credits + 1) * $1::bigint
        LIMIT $2`,
      [MICRO_PER_CREDIT.toString(), limit],
    )) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }

  /** Queues the account's whole credits of overage not reported yet (the fraction waits for the next report). */
  async queue(accountId: string, now: Date): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const row = await lockBillingRow(m, accountId);
      if (row) {
        await queueOverage(m, row, false, now);
      }
    });
  }

  /**
   * Claims the reports due for sending (not sent, retry time reached, not claimed by a live sender) for a while:
   * one statement, so several instances never claim the same report and no connection is held while sending.
   */
  async claimDue(now: Date, limit: number): Promise<OutboxRow[]> {
    const rows = rowsOf(
      await this.dataSource.query(
        `UPDATE meter_outbox SET claimed_until = $2
          WHERE id IN (SELECT id FROM meter_outbox
                        WHERE sent_at IS NULL AND next_attempt_at <= $1
                          AND (claimed_until IS NULL OR claimed_until <= $1)
                        ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
          RETURNING id, identifier, stripe_customer_id, value::text AS value, event_at, attempts`,
        [now, new Date(now.getTime() + CLAIM_MS), limit],
      ),
    ) as Array<{
      id: string;
      identifier: string;
      stripe_customer_id: string;
      value: string;
      event_at: Date;
      attempts: number;
    }>;
    return rows
      .map((r) => ({
        id: String(r.id),
        identifier: r.identifier,
        customer: r.stripe_customer_id,
        value: BigInt(r.value),
        eventAt: new Date(r.event_at),
        attempts: r.attempts,
      }))
      .sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)));
  }

  async markSent(id: string, now: Date): Promise<void> {
    await this.dataSource.query(
      `UPDATE meter_outbox SET sent_at = $2, claimed_until = NULL, attempts = attempts + 1, last_error = NULL
        WHERE id = $1`,
      [id, now],
    );
  }

  async markFailed(id: string, retryAt: Date, error: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE meter_outbox SET attempts = attempts + 1, next_attempt_at = $2, claimed_until = NULL,
              last_error = $3
        WHERE id = $1`,
      [id, retryAt, error.slice(0, 500)],
    );
  }
}
