import { randomUUID } from 'node:crypto';
import { SettlementRepository, type SettlementRow } from '../../src/billing/settlement.repository.js';
import type { UsageRecord } from '../../src/billing/metering.types.js';
import type { TestApp } from '../support/app.js';

/** One seeded request: what the settlement batch would write for it. */
export interface Seed {
  at: string;
  keyId: string;
  test?: boolean;
  model?: string;
  modelRequested?: string;
  provider?: UsageRecord['provider'];
  status?: UsageRecord['status'];
  prompt?: number;
  completion?: number;
  cached?: number;
  costMicro?: bigint;
  latencyMs?: number;
}

/**
 * Writes usage events through the settlement writer itself (the SQL function every request's usage goes through,
 * rollups included), at the times given: exact numbers to compare `GET /v1/usage` with.
 */
export async function seed(t: TestApp, accountId: string, seeds: Seed[]): Promise<string[]> {
  const rows: SettlementRow[] = seeds.map((s) => ({
    record: {
      requestId: `req_seed_${randomUUID().replaceAll('-', '')}`,
      accountId,
      keyId: s.keyId,
      test: s.test ?? true, // test traffic: no ledger entry, so seeding leaves the balance alone
      modelRequested: s.modelRequested ?? s.model ?? 'gpt-6-luna',
      modelServed: s.status === 'failed' ? null : (s.model ?? 'gpt-6-luna'),
      provider: s.provider === undefined ? 'openai' : s.provider,
      status: s.status ?? 'completed',
      httpStatus: s.status === 'failed' ? 503 : 200,
      promptTokens: s.prompt ?? 10,
      completionTokens: s.completion ?? 20,
      cachedTokens: s.cached ?? 0,
      reasoningTokens: 0,
      costMicro: s.costMicro ?? 1_000n,
      priceVersion: null,
      latencyMs: s.latencyMs ?? 100,
      ttftMs: null,
      streamed: false,
      attempts: 1,
      estimated: false,
      errorCode: s.status === 'failed' ? 'service_unavailable' : null,
    },
    endedAt: new Date(s.at),
    chargeMicro: 0n,
    leaseId: null,
    releaseMicro: 0n,
  }));
  await t.app.get(SettlementRepository).write(rows);
  return rows.map((r) => r.record.requestId);
}

/** The internal and public ids of an account's keys, oldest first. */
export async function keysOf(
  t: TestApp,
  accountId: string,
): Promise<Array<{ id: string; public_id: string; kind: string }>> {
  return (await t.db.query(
    `SELECT id, public_id, kind FROM api_keys WHERE account_id = $1 ORDER BY created_at`,
    [accountId],
  )) as Array<{ id: string; public_id: string; kind: string }>;
}

/** The account id behind a session token (from the JWT's payload). */
export function accountOf(session: string): string {
  const payload = JSON.parse(Buffer.from(session.split('.')[1], 'base64url').toString('utf8')) as {
    sub: string;
  };
  return payload.sub;
}
