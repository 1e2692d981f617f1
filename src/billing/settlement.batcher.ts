import { Injectable, Logger } from '@nestjs/common';
import { SettlementRepository, type SettlementRow } from './settlement.repository.js';

/** The most requests one batch writes (one statement's JSON stays a few hundred KB at most). */
const MAX_BATCH = 500;

interface Pending {
  row: SettlementRow;
  resolve: (balance: bigint | null) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for settlements. A request's settlement joins the queue; whenever no batch is being written,
 * everything queued is written as one batch (one statement, one transaction), and each request learns its
 * account's balance once the batch has committed. Under load one commit serves many requests; when idle a
 * request is written at once, without waiting for a timer.
 *
 * A batch that fails is retried once, then written request by request, so one bad row (an account deleted
 * mid-request) cannot fail the requests it shares a batch with.
 */
@Injectable()
export class SettlementBatcher {
  private readonly logger = new Logger(SettlementBatcher.name);
  private queue: Pending[] = [];
  private writing: Promise<void> | null = null;

  constructor(private readonly settlements: SettlementRepository) {}

  /** Resolves once the settlement is committed, with the account's balance after it (null for test keys). */
  submit(row: SettlementRow): Promise<bigint | null> {
    return new Promise<bigint | null>((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      this.writing ??= this.pump();
    });
  }

  /** Waits until everything submitted so far is written (or failed). */
  async drain(): Promise<void> {
    while (this.writing) {
      await this.writing;
    }
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        await this.write(batch);
      }
    } finally {
      this.writing = null;
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    let balances: Map<string, bigint>;
    try {
      balances = await this.settlements
        .write(batch.map((p) => p.row))
        .catch(() => this.settlements.write(batch.map((p) => p.row)));
    } catch (error) {
      if (batch.length === 1) {
        batch[0].reject(error);
        return;
      }
      this.logger.warn(
        `a settlement batch of ${batch.length} failed (${(error as Error).message}); writing its requests one by one`,
      );
      for (const pending of batch) {
        await this.write([pending]);
      }
      return;
    }
    for (const { row, resolve } of batch) {
      resolve(row.record.test ? null : (balances.get(row.record.accountId) ?? null));
    }
  }
}
