import { describe, expect, it } from 'vitest';
import { call } from '../support/app.js';
import { useGateway } from '../support/gateway.js';
import { accountOf, keysOf, seed, type Seed } from './support.js';

/** The latency bucket as first defined (a numeric logarithm), which the integer bounds must reproduce exactly. */
const LOG_BUCKET = `CASE WHEN ms < 1 THEN 0 ELSE least(63, floor(3 * log(2, ms::numeric))::integer + 1) END`;

describe('usage rollups', () => {
  const g = useGateway();

  it('buckets latencies exactly as the logarithm did, at every bound and around it', async () => {
    const rows = (await g.t.db.query(
      `SELECT ms, conflux_latency_bucket(ms) AS bucket, ${LOG_BUCKET} AS expected
         FROM (SELECT generate_series(-3, 5000) AS ms
               UNION ALL SELECT ceil(power(2::numeric, b / 3.0))::integer + d
                 FROM generate_series(0, 64) b, generate_series(-1, 1) d
               UNION ALL SELECT 2147483647) x
        WHERE conflux_latency_bucket(ms) IS DISTINCT FROM ${LOG_BUCKET}`,
    )) as Array<{ ms: number; bucket: number; expected: number }>;
    expect(rows).toEqual([]);
  });

  it('keeps the daily rollups the exact sum of the hourly ones, batch after batch, and reads either alike', async () => {
    const accountId = accountOf(g.session);
    const [live] = await keysOf(g.t, accountId);
    const day = (at: string, latencyMs: number, more: Partial<Seed> = {}): Seed => ({
      at,
      keyId: live.id,
      latencyMs,
      prompt: latencyMs,
      costMicro: BigInt(latencyMs),
      ...more,
    });
    // three batches meeting on the same hourly and daily rows, the last one late (an hour settled long after)
    await seed(g.t, accountId, [
      day('2026-08-03T00:00:00Z', 5),
      day('2026-08-03T10:15:00Z', 120),
      day('2026-08-03T10:45:00Z', 800, { status: 'failed' }),
      day('2026-08-04T23:59:59.999Z', 3000, { model: 'claude-7-sonnet', provider: 'anthropic' }),
    ]);
    await seed(g.t, accountId, [day('2026-08-03T10:20:00Z', 64), day('2026-08-03T23:00:00Z', 1)]);
    await seed(g.t, accountId, [day('2026-08-03T10:59:59Z', 0), day('2026-08-04T00:00:00Z', 2_000_000)]);

    const sums = `count(*)::int AS n, sum(requests)::int AS requests, sum(prompt_tokens)::text AS prompt,
                  sum(cost_micro)::text AS cost, ${Array.from({ length: 64 }, (_, b) => `sum(l${String(b).padStart(2, '0')})::int`).join(" || ',' || ")} AS hist`;
    const [daily, hourly] = await Promise.all([
      g.t.db.query(
        `SELECT day, key_id, model, provider, test, ok, ${sums} FROM usage_rollups_daily
          WHERE account_id = $1 GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6`,
        [accountId],
      ),
      g.t.db.query(
        `SELECT date_trunc('day', hour, 'UTC') AS day, key_id, model, provider, test, ok, ${sums} FROM usage_rollups
          WHERE account_id = $1 GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6`,
        [accountId],
      ),
    ]);
    expect((daily as Array<{ n: number }>).every((r) => r.n === 1)).toBe(true); // one row per day and dimensions
    expect((daily as unknown[]).length).toBe(4); // Aug 3 ok and failed, Aug 4 for each model
    expect(daily.map((r: Record<string, unknown>) => ({ ...r, n: 1 }))).toEqual(
      hourly.map((r: Record<string, unknown>) => ({ ...r, n: 1 })),
    );

    // whole days (daily rollups), whole hours (hourly rollups) and partial hours (events) answer the same sums
    const read = async (range: string) =>
      (await call(g.t, 'GET', `/v1/usage?${range}&group_by=model`, undefined, g.session)).body.data.map(
        (r: Record<string, unknown>) => [r.model, r.requests, r.errors, r.prompt_tokens, r.credits],
      );
    const whole = await read('from=2026-08-03T00:00:00Z&to=2026-08-05T00:00:00Z');
    expect(whole).toEqual([
      ['claude-7-sonnet', 1, 0, 3000, '0.003'],
      ['gpt-6-luna', 7, 1, 2000990, '2.00099'],
    ]);
    expect(await read('from=2026-08-02T23:59:59.999Z&to=2026-08-05T00:00:00.001Z')).toEqual(whole);
    expect(await read('from=2026-08-02T22:00:00Z&to=2026-08-05T01:00:00Z')).toEqual(whole);
    // a day read from its daily rollup equals the same day read from 23 hourly rollups and the events of its last
    // hour, latency percentiles included
    const dayOf = async (to: string) =>
      (
        await call(
          g.t,
          'GET',
          `/v1/usage?from=2026-08-03T00:00:00Z&to=${to}&group_by=day`,
          undefined,
          g.session,
        )
      ).body.data;
    const fromDaily = await dayOf('2026-08-04T00:00:00Z');
    expect(fromDaily).toMatchObject([{ day: '2026-08-03', requests: 6, errors: 1 }]);
    expect(await dayOf('2026-08-03T23:59:59.999Z')).toEqual(fromDaily);
  });
});
