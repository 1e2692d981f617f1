import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { SettlementJournal } from './journal.js';
import { SettlementRepository, type SettlementRow } from './settlement.repository.js';
import { isUnreachable } from '../common/unreachable.js';

/** The most requests one batch writes (one statement's JSON stays a few hundred KB at most). */
const MAX_BATCH = 500;
/** Settlements that could not reach the database are retried after this, doubling up to the maximum. */
const RETRY_MS = { first: 250, max: 10_000 };

interface Pending {
  row: SettlementRow;
  resolve: (outcome: Landing) => void;
  reject: (error: unknown) => void;
}

/** Where a settlement stands once `submit` resolves. */
export interface Landing {
  /** In the database: the account's balance after it (null for test keys, or while it waits to land). */
  balanceMicro: bigint | null;
  /** False when the database could not be reached: it is in the journal and lands when it comes back. */
  landed: boolean;
}

/**
 * Group commit for settlements. A request's settlement joins the queue; whenever no batch is being written,
 * everything queued is written ahead to the journal (durable) and then to the database as one batch (one
 * statement, one transaction), and each request learns its account's balance once the batch has committed.
 * Under load one commit serves many requests; when idle a request is written at once, without a timer.
 *
 * When the database cannot be reached, the batch stays in the journal and is retried (with backoff) until it
 * lands: the requests are answered meanwhile, since what they owe is durable. A batch refused for another
 * reason is written request by request, so one bad row (an account deleted mid-request) cannot fail the others.
 */
@Injectable()
export class SettlementBatcher implements OnModuleDestroy {
  private readonly logger = new Logger(SettlementBatcher.name);
  private queue: Pending[] = [];
  private writing: Promise<void> | null = null;
  private retries: SettlementRow[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = RETRY_MS.first;

  constructor(
    private readonly settlements: SettlementRepository,
    private readonly journal: SettlementJournal,
  ) {}

  /** Resolves once the settlement is committed, or durable in the journal while the database is away. */
  submit(row: SettlementRow): Promise<Landing> {
    return new Promise<Landing>((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      this.writing ??= this.pump();
    });
  }

  /** Settlements waiting for the database to come back. */
  get waiting(): number {
    return this.retries.length;
  }

  /** Writes what is queued and tries once more what waits for the database; what still cannot land stays journaled. */
  async drain(): Promise<void> {
    while (this.writing) {
      await this.writing;
    }
    clearTimeout(this.retryTimer);
    await this.retry();
  }

  async onModuleDestroy(): Promise<void> {
    await this.drain();
    await this.journal.close();
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        await this.write(this.queue.splice(0, MAX_BATCH));
      }
    } finally {
      this.writing = null;
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    const rows = batch.map((p) => p.row);
    let durable = true;
    try {
      await this.journal.append(rows);
    } catch (error) {
      durable = false; // neither Redis nor the disk took it: the database write decides alone
      this.logger.error(`could not write ${rows.length} settlements ahead: ${(error as Error).message}`);
    }
    const outcome = await this.land(rows);
    batch.forEach((pending, i) => {
      const landed = outcome[i];
      if (landed === 'waiting' && !durable) {
        pending.reject(new Error('the settlement could not be written anywhere'));
      } else if (landed === 'waiting') {
        pending.resolve({ balanceMicro: null, landed: false });
      } else {
        pending.resolve({
          balanceMicro: pending.row.record.test ? null : (landed.get(pending.row.record.accountId) ?? null),
          landed: true,
        });
      }
    });
  }

  /**
   * Writes rows to the database; rows it cannot reach join the retries. Returns, per row, the balances of the
   * batch it landed in, or `waiting`.
   */
  private async land(rows: SettlementRow[]): Promise<Array<Map<string, bigint> | 'waiting'>> {
    try {
      const balances = await this.settlements.write(rows);
      await this.journal.landed(rows.map((r) => r.record.requestId));
      return rows.map(() => balances);
    } catch (error) {
      if (isUnreachable(error)) {
        this.waitForDatabase(rows, error);
        return rows.map(() => 'waiting');
      }
      if (rows.length > 1) {
        const one = await Promise.all(rows.map((row) => this.land([row])));
        return one.map((o) => o[0]);
      }
      // It can never land (its account was deleted meanwhile, say): said loudly, and not retried forever.
      this.logger.error(
        { requestId: rows[0].record.requestId, err: (error as Error).message },
        'a settlement was refused by the database and is dropped',
      );
      await this.journal.landed([rows[0].record.requestId]);
      return [new Map()];
    }
  }

  private waitForDatabase(rows: SettlementRow[], error: unknown): void {
    if (this.retries.length === 0) {
      this.logger.warn(
        `the database is unreachable (${(error as Error).message}): settlements wait in the journal`,
      );
    }
    this.retries.push(...rows);
    this.retryTimer ??= setTimeout(() => void this.retry(), this.retryDelay);
    this.retryTimer.unref();
  }

  private async retry(): Promise<void> {
    this.retryTimer = undefined;
    const rows = this.retries.splice(0);
    if (rows.length === 0) {
      return;
    }
    for (let i = 0; i < rows.length; i += MAX_BATCH) {
      const outcome = await this.land(rows.slice(i, i + MAX_BATCH));
      if (outcome.every((o) => o === 'waiting')) {
        this.retries.push(...rows.slice(i + MAX_BATCH));
        this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MS.max);
        return;
      }
    }
    this.retryDelay = RETRY_MS.first;
    this.logger.log(`${rows.length} settlements that waited for the database have landed`);
  }
}
