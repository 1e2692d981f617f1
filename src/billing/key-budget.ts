import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { Clock } from '../common/clock.js';
import { Instance } from '../common/instance.js';
import { CONFIG, type Config } from '../config/config.js';
import type { Ask } from './lease-book.js';
import type { Hold } from './metering.types.js';
import { rowsOf } from './sql.js';

/** Credit held against a key's `credit_limit` for one request (released by its settlement, by request id). */
export interface KeyHold {
  keyId: string;
  requestId: string;
  amountMicro: bigint;
}

export type KeyAdmission = { hold: KeyHold } | { hold: null; leftMicro: bigint; limitMicro: bigint };

const KEEPER_INTERVAL_MS = 1_000;

/**
 * Admission against a key's credit limit. Keys with a limit are few, and their last credits must not be overspent
 * by concurrent requests on several instances: each live request of such a key holds its worst case in the
 * database, in one call of `conflux_key_hold` that locks the key's counter (this period's spend plus every hold
 * in flight never exceeds the limit). Its settlement releases the hold and adds the charge in the same batch
 * transaction as the ledger. Holds of this instance's requests in flight are renewed; those of a dead instance
 * expire and go back to their keys. Keys without a limit never come here: no database round trip for them.
 */
@Injectable()
export class KeyBudget implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(KeyBudget.name);
  /** Requests of this instance holding key credit, not settled yet. */
  private readonly held = new Set<string>();
  private timer?: NodeJS.Timeout;
  private lastRenew = 0;
  private keeping = false;
  private readonly ttl: number;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly instance: Instance,
    @Inject(CONFIG) config: Config,
  ) {
    this.ttl = config.recovery.leaseTtlMs;
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.keep(), KEEPER_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Holds `ask.max` of the key's limit, or as much as is left down to `ask.min`; or says what is left. */
  async admit(keyId: string, requestId: string, ask: Ask): Promise<KeyAdmission> {
    const [row] = (await this.dataSource.query(
      `SELECT held_micro::text AS held, left_micro::text AS "left", limit_micro::text AS lim
         FROM conflux_key_hold($1, $2, $3, $4, $5, $6)`,
      [
        keyId,
        ask.min.toString(),
        ask.max.toString(),
        requestId,
        this.instance.id,
        new Date(this.clock.now() + this.ttl),
      ],
    )) as Array<{ held: string; left: string | null; lim: string | null }>;
    const amount = BigInt(row.held);
    if (row.lim === null) {
      // The limit was cleared since this instance cached the key: nothing to hold.
      return { hold: { keyId, requestId, amountMicro: 0n } };
    }
    if (amount === 0n) {
      return { hold: null, leftMicro: BigInt(row.left ?? '0'), limitMicro: BigInt(row.lim) };
    }
    this.held.add(requestId);
    return { hold: { keyId, requestId, amountMicro: amount } };
  }

  /** The request was settled (its hold left the key's counter in the batch), or never went on. */
  settled(hold: KeyHold): void {
    this.held.delete(hold.requestId);
  }

  /**
   * Gives a hold back at once, unless the request was settled: it was refused after it was held (the account had
   * too little), or it failed before reaching settlement.
   */
  async release(hold: KeyHold): Promise<void> {
    // Settled already (its batch releases it): nothing to give back here.
    if (!this.held.delete(hold.requestId) || hold.amountMicro === 0n) {
      return;
    }
    await this.dataSource.transaction(async (m) => {
      await m.query(`SELECT 1 FROM key_spend WHERE key_id = $1 FOR UPDATE`, [hold.keyId]);
      const gone = rowsOf(
        await m.query(`DELETE FROM key_holds WHERE request_id = $1 RETURNING amount_micro::text AS amount`, [
          hold.requestId,
        ]),
      ) as Array<{ amount: string }>;
      if (gone[0]) {
        await m.query(`UPDATE key_spend SET held_micro = held_micro - $2 WHERE key_id = $1`, [
          hold.keyId,
          gone[0].amount,
        ]);
      }
    });
  }

  /** Renews this instance's holds of requests in flight; gives expired holds (of any instance) back. */
  async keep(): Promise<void> {
    const now = this.clock.now();
    if (this.keeping || now - this.lastRenew < this.ttl / 4) {
      return;
    }
    this.keeping = true;
    this.lastRenew = now;
    try {
      if (this.held.size > 0) {
        await this.dataSource.query(
          `UPDATE key_holds SET expires_at = $2 WHERE request_id = ANY ($1::text[])`,
          [[...this.held], new Date(now + this.ttl)],
        );
      }
      await this.reclaimExpired(new Date(now));
    } catch (error) {
      this.logger.warn(`key credit holds: ${(error as Error).message}`);
    } finally {
      this.keeping = false;
    }
  }

  /** Holds whose instance stopped renewing them go back to their keys, each once (counters locked in key order). */
  async reclaimExpired(now: Date): Promise<number> {
    return this.dataSource.transaction(async (m) => {
      const keys = (await m.query(
        `SELECT key_id FROM key_spend WHERE key_id IN (SELECT key_id FROM key_holds WHERE expires_at < $1)
          ORDER BY key_id FOR UPDATE`,
        [now],
      )) as Array<{ key_id: string }>;
      if (keys.length === 0) {
        return 0;
      }
      const gone = rowsOf(
        await m.query(
          `DELETE FROM key_holds WHERE expires_at < $1 AND key_id = ANY ($2::uuid[])
           RETURNING key_id, amount_micro::text AS amount`,
          [now, keys.map((k) => k.key_id)],
        ),
      ) as Array<{ key_id: string; amount: string }>;
      const perKey = new Map<string, bigint>();
      for (const row of gone) {
        perKey.set(row.key_id, (perKey.get(row.key_id) ?? 0n) + BigInt(row.amount));
      }
      for (const [keyId, amount] of perKey) {
        await m.query(`UPDATE key_spend SET held_micro = held_micro - $2 WHERE key_id = $1`, [
          keyId,
          amount.toString(),
        ]);
      }
      return gone.length;
    });
  }
}

/** What a request may be charged at most: the smaller of its holds (null: no hold, no cap). */
export function capOf(hold: Hold | null, keyHold: KeyHold | null): bigint | null {
  if (hold && keyHold) {
    return hold.amountMicro < keyHold.amountMicro ? hold.amountMicro : keyHold.amountMicro;
  }
  return hold?.amountMicro ?? keyHold?.amountMicro ?? null;
}
