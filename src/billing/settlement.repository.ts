import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { UsagePublisher, type UsageMessage } from '../usage/usage.publisher.js';
import type { UsageRecord } from './metering.types.js';

/** One request's settlement, as the batch writes it. */
export interface SettlementRow {
  record: UsageRecord;
  /** When the request ended: the usage event's time (fixed here, so a replay writes the same row). */
  endedAt: Date;
  /** What the ledger debits: the cost (capped at the hold on the Free plan). */
  chargeMicro: bigint;
  /** The lease the request's hold came from, and what to give back to the account from it. */
  leaseId: string | null;
  releaseMicro: bigint;
}

/**
 * Writes settlement batches: one call of `conflux_settle` (see its migration) per batch. Every usage event is
 * written here (batches and the reconciler alike), so this is where committed events are announced to the usage
 * stream.
 */
@Injectable()
export class SettlementRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly publisher: UsagePublisher,
  ) {}

  /** Writes the batch in one transaction; returns the balance after it of every live account in it. */
  async write(rows: readonly SettlementRow[]): Promise<Map<string, bigint>> {
    const batch = rows.map(({ record: r, endedAt, chargeMicro, leaseId, releaseMicro }) => ({
      request_id: r.requestId,
      account_id: r.accountId,
      key_id: r.keyId,
      test: r.test,
      model_requested: r.modelRequested,
      model_served: r.modelServed,
      provider: r.provider,
      status: r.status,
      http_status: r.httpStatus,
      prompt_tokens: r.promptTokens,
      completion_tokens: r.completionTokens,
      cached_tokens: r.cachedTokens,
      reasoning_tokens: r.reasoningTokens,
      cost_micro: r.costMicro.toString(),
      price_version: r.priceVersion,
      latency_ms: r.latencyMs,
      ttft_ms: r.ttftMs,
      streamed: r.streamed,
      attempts: r.attempts,
      estimated: r.estimated,
      error_code: r.errorCode,
      created_at: endedAt.toISOString(),
      charge_micro: chargeMicro.toString(),
      lease_id: leaseId,
      release_micro: releaseMicro.toString(),
    }));
    const result = (await this.dataSource.query(
      `SELECT account_id, balance_micro::text AS balance FROM conflux_settle($1::jsonb)`,
      [JSON.stringify(batch)],
    )) as Array<{ account_id: string; balance: string }>;
    this.publisher.landed(
      batch.map(
        ({ key_id, charge_micro: _c, lease_id: _l, release_micro: _r, price_version: _p, ...event }) => ({
          ...event,
          key: key_id,
        }),
      ) satisfies UsageMessage[],
    );
    return new Map(result.map((row) => [row.account_id, BigInt(row.balance)]));
  }
}
