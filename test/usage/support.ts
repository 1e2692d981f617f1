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

export interface SseEvent {
  event: string;
  data: any;
}

/** An open `GET /v1/usage/stream`: its answer, and its events read one at a time. */
export interface UsageStream {
  status: number;
  headers: Headers;
  /** The next event, or null when the stream ended; fails after `ms`. */
  next(ms?: number): Promise<SseEvent | null>;
  /** The next event named `event`, skipping others (heartbeats, …). */
  nextOf(event: string, ms?: number): Promise<SseEvent>;
  close(): void;
}

export async function openStream(url: string, token: string): Promise<UsageStream> {
  const controller = new AbortController();
  const res = await fetch(`${url}/v1/usage/stream`, {
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let ended = false;
  const next = async (ms = 5_000): Promise<SseEvent | null> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1] ?? 'message';
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        return { event, data: data === undefined ? null : JSON.parse(data) };
      }
      if (ended) {
        return null;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error('timed out waiting for a stream event');
      }
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        reader.read(),
        new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), left))),
      ]).finally(() => clearTimeout(timer));
      if (chunk === 'timeout') {
        throw new Error('timed out waiting for a stream event');
      }
      if (chunk.done) {
        ended = true;
      } else {
        buffer += decoder.decode(chunk.value, { stream: true });
      }
    }
  };
  return {
    status: res.status,
    headers: res.headers,
    next,
    async nextOf(event: string, ms = 5_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const got = await next(Math.max(1, deadline - Date.now()));
        if (got === null) {
          throw new Error(`the stream ended before a ${event} event`);
        }
        if (got.event === event) {
          return got;
        }
      }
    },
    close: () => controller.abort(),
  };
}
