import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { CatalogService } from '../catalog/catalog.service.js';
import { costMicro, priceAt } from '../catalog/pricing.js';
import { Clock } from '../common/clock.js';
import { isUnreachable } from '../common/unreachable.js';
import { CONFIG, type Config } from '../config/config.js';
import { SettlementJournal, type InflightEntry } from './journal.js';
import { SettlementRepository, type SettlementRow } from './settlement.repository.js';

/** How often requests in flight are written down, and how often stopped instances' work is looked for. */
const SNAPSHOT_MS = 1_000;

/**
 * Requests in flight on this instance, written to the journal every second (counts only, no content), so
 * another instance can bill what was delivered if this one dies mid-request; and the reconciler that does it:
 * settlements another instance wrote ahead but never landed, and the requests it had in flight, are billed
 * once (the request id makes a second time harmless). What a dead instance held in its leases goes back to its
 * accounts when the leases expire.
 */
@Injectable()
export class InflightRegistry implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(InflightRegistry.name);
  private readonly flights = new Map<string, () => InflightEntry>();
  private snapshotTimer?: NodeJS.Timeout;
  private reconcileTimer?: NodeJS.Timeout;
  private writing = false;

  constructor(
    private readonly journal: SettlementJournal,
    private readonly settlements: SettlementRepository,
    private readonly catalog: CatalogService,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  onApplicationBootstrap(): void {
    this.snapshotTimer = setInterval(() => void this.snapshot(), SNAPSHOT_MS);
    this.snapshotTimer.unref();
    this.reconcileTimer = setInterval(() => void this.reconcile(), this.config.recovery.reconcileIntervalMs);
    this.reconcileTimer.unref();
    void this.reconcile(); // what the previous process on this directory (or a dead instance) left
  }

  onModuleDestroy(): void {
    clearInterval(this.snapshotTimer);
    clearInterval(this.reconcileTimer);
  }

  /** Follows a request until it is settled (call the returned function then). */
  track(requestId: string, entry: () => InflightEntry): () => void {
    this.flights.set(requestId, entry);
    return () => this.flights.delete(requestId);
  }

  get size(): number {
    return this.flights.size;
  }

  /** Writes what is in flight now (also the instance's heartbeat in Redis). */
  async snapshot(): Promise<void> {
    if (this.writing) {
      return;
    }
    this.writing = true;
    try {
      await this.journal.inflight([...this.flights.values()].map((entry) => entry()));
    } catch (error) {
      this.logger.warn(`could not write the requests in flight down: ${(error as Error).message}`);
    } finally {
      this.writing = false;
    }
  }

  /** Bills the unfinished work of stopped instances. Returns how many requests it settled. */
  async reconcile(): Promise<number> {
    let settled = 0;
    for (const orphan of await this.journal.orphans()) {
      const rows = [...orphan.pending, ...orphan.inflight.map((entry) => this.lost(entry))];
      try {
        settled += await this.land(rows);
        await orphan.done();
        if (rows.length > 0) {
          this.logger.warn(
            `settled the unfinished work of stopped instance ${orphan.owner}: ${orphan.pending.length} settlements ` +
              `written ahead, ${orphan.inflight.length} requests in flight`,
          );
        }
      } catch (error) {
        // The database is away: the work stays where it is, for the next round.
        this.logger.warn(
          `could not settle the work of stopped instance ${orphan.owner}: ${(error as Error).message}`,
        );
      }
    }
    return settled;
  }

  /** Writes rows in one batch, or one by one when the batch is refused (a row that can never land is dropped). */
  private async land(rows: SettlementRow[]): Promise<number> {
    if (rows.length === 0) {
      return 0;
    }
    try {
      await this.settlements.write(rows);
      return rows.length;
    } catch (error) {
      if (isUnreachable(error)) {
        throw error;
      }
      if (rows.length === 1) {
        this.logger.error(
          { requestId: rows[0].record.requestId, err: (error as Error).message },
          'a stopped instance left a settlement the database refuses; it is dropped',
        );
        return 0;
      }
      let landed = 0;
      for (const row of rows) {
        landed += await this.land([row]);
      }
      return landed;
    }
  }

  /** A request a dead instance had in flight: billed for its prompt and what was delivered, estimated. */
  private lost(entry: InflightEntry): SettlementRow {
    const endedAt = this.clock.date();
    const model = entry.served ? this.catalog.get(entry.served.modelId) : undefined;
    const deployment = model?.deployments.find(
      (d) => d.provider === entry.served?.provider && d.providerModel === entry.served.providerModel,
    );
    const prompt = entry.reportedPrompt ?? entry.promptTokens;
    const completion = entry.completionTokens;
    const price = model && deployment ? priceAt(deployment, model.id, new Date(entry.startedAt)) : null;
    const cost = price
      ? costMicro(price, { promptTokens: prompt, cachedTokens: 0, completionTokens: completion })
      : 0n;
    const hold = BigInt(entry.holdMicro);
    return {
      record: {
        requestId: entry.requestId,
        accountId: entry.accountId,
        keyId: entry.keyId,
        test: false,
        modelRequested: entry.modelRequested,
        modelServed: entry.served?.modelId ?? null,
        provider: deployment?.provider ?? null,
        status: 'aborted',
        httpStatus: 499,
        promptTokens: price ? prompt : 0,
        completionTokens: price ? completion : 0,
        cachedTokens: 0,
        reasoningTokens: 0,
        costMicro: cost,
        priceVersion: price?.version ?? null,
        latencyMs: Math.max(0, endedAt.getTime() - entry.startedAt),
        ttftMs: entry.ttftMs,
        streamed: entry.streamed,
        attempts: entry.attempts,
        estimated: true,
        errorCode: 'instance_lost',
      },
      endedAt,
      chargeMicro: chargeOf(entry, cost, hold),
      leaseId: entry.leaseId,
      releaseMicro: hold,
    };
  }
}

/** What a lost request is charged: its cost, at most what it held (of its account, and of its key's limit). */
function chargeOf(entry: InflightEntry, cost: bigint, hold: bigint): bigint {
  const cap = entry.capMicro != null ? BigInt(entry.capMicro) : entry.capped ? hold : null;
  return cap !== null && cost > cap ? cap : cost;
}
