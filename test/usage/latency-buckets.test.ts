import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketUpperMs } from '../../src/usage/latency.js';
import { call, createKey, signup, startApp, type TestApp } from '../support/app.js';
import { accountOf, keysOf, seed } from './support.js';

/**
 * The latency histogram's bucket of `ms`, exactly: bucket 0 under 1 ms, otherwise the number of b in 1..63 with
 * 2^((b-1)/3) ≤ ms, i.e. ms³ ≥ 2^(b-1) (integers, no floating point).
 */
function bucketOf(ms: number): number {
  if (ms < 1) {
    return 0;
  }
  const cube = BigInt(ms) ** 3n;
  let bucket = 0;
  for (let b = 1; b <= 63; b++) {
    if (cube >= 2n ** BigInt(b - 1)) {
      bucket = b;
    }
  }
  return bucket;
}

/**
 * The bucket a request's latency lands in is computed in SQL by every settlement batch (for the hourly rollups
 * the grouped usage reads come from). It is a cheap `width_bucket` over the buckets' lower bounds; these tests hold
 * it to the definition, at every bucket's edges, and show the percentiles a customer reads follow from it.
 */
describe('latency buckets', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('puts every latency in the bucket of its definition, at each bucket edge and between', async () => {
    const values = new Set<number>([-5, 0]);
    for (let ms = 1; ms <= 5_000; ms++) {
      values.add(ms);
    }
    for (let b = 1; b <= 64; b++) {
      const edge = Math.round(2 ** ((b - 1) / 3));
      for (const ms of [edge - 2, edge - 1, edge, edge + 1, edge + 2]) {
        values.add(Math.max(0, ms));
      }
    }
    values.add(2_147_483_647);
    const list = [...values];
    const rows = (await t.db.query(
      `SELECT ms, conflux_latency_bucket(ms) AS bucket FROM unnest($1::integer[]) AS ms`,
      [list],
    )) as Array<{ ms: number; bucket: number }>;
    expect(rows).toHaveLength(list.length);
    const wrong = rows.filter((row) => row.bucket !== bucketOf(row.ms));
    expect(wrong).toEqual([]);
  });

  it('reports per-key p50 and p95 as the upper bounds of the buckets those requests fell in', async () => {
    const owner = await signup(t);
    await createKey(t, owner.token, 'test');
    const [key] = await keysOf(t, accountOf(owner.token));
    const latencies = [3, 9, 10, 64, 65, 100, 999, 1_000, 1_024, 30_000];
    await seed(
      t,
      owner.accountId,
      latencies.map((latencyMs, i) => ({
        at: `2026-10-05T10:${String(i).padStart(2, '0')}:00Z`,
        keyId: key.id,
        latencyMs,
      })),
    );
    const res = await call(
      t,
      'GET',
      '/v1/usage?from=2026-10-05T00:00:00Z&to=2026-10-06T00:00:00Z&group_by=key',
      undefined,
      owner.token,
    );
    expect(res.status).toBe(200);
    const [group] = res.body.data as Array<{
      requests: number;
      latency_p50_ms: number;
      latency_p95_ms: number;
    }>;
    expect(group.requests).toBe(latencies.length);
    // Ranks ⌈0.5·10⌉ = 5 and ⌈0.95·10⌉ = 10 of the sorted latencies: 65 ms and 30,000 ms.
    expect(group.latency_p50_ms).toBe(bucketUpperMs(bucketOf(65)));
    expect(group.latency_p95_ms).toBe(bucketUpperMs(bucketOf(30_000)));
    expect([group.latency_p50_ms, group.latency_p95_ms]).toEqual([81, 32_768]);
  });
});
