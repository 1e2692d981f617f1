import { beforeAll, describe, expect, it } from 'vitest';
import { call, createKey, signup } from '../support/app.js';
import { useGateway } from '../support/gateway.js';
import { accountOf, keysOf, seed, type Seed } from './support.js';

const RANGE = 'from=2026-10-01T00:00:00Z&to=2026-10-08T00:00:00Z';

/** The seeded traffic of the account under test, in October 2026 (a month without its partition yet). */
function traffic(live: string, other: string): Seed[] {
  const out: Seed[] = [];
  // day 1, 10:xx: 4 requests on the live key, gpt-6-luna at openai, latencies 100..400
  for (const [i, latencyMs] of [100, 200, 300, 400].entries()) {
    out.push({
      at: `2026-10-01T10:0${i}:00Z`,
      keyId: live,
      prompt: 10,
      completion: 20,
      costMicro: 1_000n,
      latencyMs,
    });
  }
  // day 1, 11:30: one failure on the live key (no model served: grouped under the model asked for)
  out.push({
    at: '2026-10-01T11:30:00Z',
    keyId: live,
    status: 'failed',
    provider: null,
    model: 'gpt-6-luna',
    prompt: 0,
    completion: 0,
    costMicro: 0n,
    latencyMs: 50,
  });
  // day 2: 3 requests on the other key, claude at anthropic
  for (let i = 0; i < 3; i++) {
    out.push({
      at: `2026-10-02T08:1${i}:00Z`,
      keyId: other,
      model: 'claude-7-sonnet',
      provider: 'anthropic',
      prompt: 100,
      completion: 50,
      cached: 40,
      costMicro: 5_000n,
      latencyMs: 1_000,
    });
  }
  // day 3: 2 live-kind requests on the live key
  for (let i = 0; i < 2; i++) {
    out.push({
      at: `2026-10-03T23:5${i}:30Z`,
      keyId: live,
      test: false,
      prompt: 1,
      completion: 2,
      costMicro: 3n,
      latencyMs: 10,
    });
  }
  return out;
}

describe('GET /v1/usage', () => {
  const g = useGateway();
  let accountId: string;
  let live: { id: string; public_id: string };
  let other: { id: string; public_id: string };
  let otherSession: string;
  let otherLive: string;
  let otherKeyPublicId: string;

  beforeAll(async () => {
    accountId = accountOf(g.session);
    other = await createKey(g.t, g.session, 'live').then(async ({ id }) => {
      const keys = await keysOf(g.t, accountId);
      return keys.find((k) => k.public_id === id)!;
    });
    live = (await keysOf(g.t, accountId))[0];
    await seed(g.t, accountId, traffic(live.id, other.id));

    // another account, with traffic of its own in the same range (and a key id the first account will try)
    const b = await signup(g.t);
    otherSession = b.token;
    const bKey = await createKey(g.t, b.token, 'live');
    otherLive = bKey.key;
    otherKeyPublicId = bKey.id;
    const [bk] = await keysOf(g.t, b.accountId);
    await seed(g.t, b.accountId, [
      { at: '2026-10-01T10:00:00Z', keyId: bk.id, prompt: 987_654, completion: 987_654, costMicro: 987_654n },
      { at: '2026-10-02T10:00:00Z', keyId: bk.id, prompt: 987_654, completion: 987_654, costMicro: 987_654n },
    ]);
  });

  it('lists the events newest first with their metadata, and nothing of another account', async () => {
    const res = await call(g.t, 'GET', `/v1/usage?${RANGE}`, undefined, g.session);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      object: 'list',
      from: '2026-10-01T00:00:00.000Z',
      to: '2026-10-08T00:00:00.000Z',
      has_more: false,
      next_cursor: null,
    });
    expect(res.body.data).toHaveLength(10);
    const times = res.body.data.map((e: { created_at: string }) => e.created_at);
    expect([...times].sort().reverse()).toEqual(times);
    expect(res.body.data[0]).toEqual({
      object: 'usage_event',
      id: expect.stringMatching(/^req_seed_/),
      created_at: '2026-10-03T23:51:30.000Z',
      key_id: live.public_id,
      kind: 'live',
      model_requested: 'gpt-6-luna',
      model_served: 'gpt-6-luna',
      provider: 'openai',
      attempts: 1,
      stream: false,
      status: 'ok',
      outcome: 'completed',
      http_status: 200,
      error_code: null,
      prompt_tokens: 1,
      completion_tokens: 2,
      cached_tokens: 0,
      reasoning_tokens: 0,
      total_tokens: 3,
      credits: '0.000003',
      latency_ms: 10,
      ttft_ms: null,
      estimated: false,
    });
    expect(JSON.stringify(res.body)).not.toContain('987654');
    // a live key of the account reads the same; a test key may not read usage
    const byKey = await call(g.t, 'GET', `/v1/usage?${RANGE}`, undefined, g.liveKey);
    expect(byKey.body.data).toEqual(res.body.data);
    expect((await call(g.t, 'GET', `/v1/usage?${RANGE}`, undefined, g.testKey)).status).toBe(403);
    expect((await call(g.t, 'GET', `/v1/usage?${RANGE}`)).status).toBe(401);
  });

  it('filters by key, model, provider, status and kind', async () => {
    const count = async (filter: string) =>
      (await call(g.t, 'GET', `/v1/usage?${RANGE}&${filter}`, undefined, g.session)).body.data
        .length as number;
    expect(await count(`key_id=${live.public_id}`)).toBe(7);
    expect(await count(`key_id=${other.public_id}`)).toBe(3);
    expect(await count('model=claude-7-sonnet')).toBe(3);
    expect(await count('model=gpt-6-luna')).toBe(7);
    expect(await count('provider=anthropic')).toBe(3);
    expect(await count('status=error')).toBe(1);
    expect(await count('status=ok')).toBe(9);
    expect(await count('kind=live')).toBe(2);
    expect(await count('kind=test')).toBe(8);
    expect(await count(`key_id=${live.public_id}&status=ok&kind=test`)).toBe(4);
  });

  it("gives nothing for another account's key id, whatever the form", async () => {
    const events = await call(
      g.t,
      'GET',
      `/v1/usage?${RANGE}&key_id=${otherKeyPublicId}`,
      undefined,
      g.session,
    );
    expect(events.status).toBe(200);
    expect(events.body.data).toEqual([]);
    const groups = await call(
      g.t,
      'GET',
      `/v1/usage?${RANGE}&key_id=${otherKeyPublicId}&group_by=day`,
      undefined,
      g.session,
    );
    expect(groups.body.data).toEqual([]);
    const csv = await fetch(`${g.t.url}/v1/usage?${RANGE}&key_id=${otherKeyPublicId}&format=csv`, {
      headers: { authorization: `Bearer ${g.session}` },
    });
    expect((await csv.text()).trim().split('\r\n')).toHaveLength(1); // the header row only
    // and the other account sees its own two, not ours
    const theirs = await call(g.t, 'GET', `/v1/usage?${RANGE}`, undefined, otherLive);
    expect(theirs.body.data).toHaveLength(2);
    expect(
      (await call(g.t, 'GET', `/v1/usage?${RANGE}&key_id=${live.public_id}`, undefined, otherSession)).body
        .data,
    ).toEqual([]);
  });

  it('sums per day, per model, per key, per provider and per hour, exactly the seeded numbers', async () => {
    const get = async (groupBy: string, extra = '') =>
      (await call(g.t, 'GET', `/v1/usage?${RANGE}&group_by=${groupBy}${extra}`, undefined, g.session)).body;
    const days = await get('day');
    expect(days.group_by).toEqual(['day']);
    expect(days.data).toEqual([
      {
        day: '2026-10-01',
        requests: 5,
        errors: 1,
        prompt_tokens: 40,
        completion_tokens: 80,
        cached_tokens: 0,
        total_tokens: 120,
        credits: '0.004',
        latency_p50_ms: expect.any(Number),
        latency_p95_ms: expect.any(Number),
      },
      {
        day: '2026-10-02',
        requests: 3,
        errors: 0,
        prompt_tokens: 300,
        completion_tokens: 150,
        cached_tokens: 120,
        total_tokens: 450,
        credits: '0.015',
        latency_p50_ms: expect.any(Number),
        latency_p95_ms: expect.any(Number),
      },
      {
        day: '2026-10-03',
        requests: 2,
        errors: 0,
        prompt_tokens: 2,
        completion_tokens: 4,
        cached_tokens: 0,
        total_tokens: 6,
        credits: '0.000006',
        latency_p50_ms: expect.any(Number),
        latency_p95_ms: expect.any(Number),
      },
    ]);
    // latencies of day 1: 50, 100, 200, 300, 400: the median is 200, the 95th percentile 400 (each at most 26 % over)
    const [d1, d2] = days.data;
    expect(d1.latency_p50_ms).toBeGreaterThanOrEqual(200);
    expect(d1.latency_p50_ms).toBeLessThanOrEqual(252);
    expect(d1.latency_p95_ms).toBeGreaterThanOrEqual(400);
    expect(d1.latency_p95_ms).toBeLessThanOrEqual(504);
    expect(d2.latency_p50_ms).toBeGreaterThanOrEqual(1000);
    expect(d2.latency_p50_ms).toBeLessThanOrEqual(1260);

    const models = await get('model');
    expect(
      models.data.map((m: { model: string; requests: number; credits: string }) => [
        m.model,
        m.requests,
        m.credits,
      ]),
    ).toEqual([
      ['claude-7-sonnet', 3, '0.015'],
      ['gpt-6-luna', 7, '0.004006'],
    ]);
    const keys = await get('key');
    expect(
      Object.fromEntries(keys.data.map((k: { key_id: string; requests: number }) => [k.key_id, k.requests])),
    ).toEqual({
      [live.public_id]: 7,
      [other.public_id]: 3,
    });
    const providers = await get('provider');
    expect(
      providers.data.map((p: { provider: string | null; requests: number }) => [p.provider, p.requests]),
    ).toEqual([
      [null, 1],
      ['anthropic', 3],
      ['openai', 6],
    ]);
    const dayModel = await get('day,model');
    expect(
      dayModel.data.map(
        (r: { day: string; model: string; requests: number }) => `${r.day} ${r.model} ${r.requests}`,
      ),
    ).toEqual(['2026-10-01 gpt-6-luna 5', '2026-10-02 claude-7-sonnet 3', '2026-10-03 gpt-6-luna 2']);
    const hours = await get('hour', `&key_id=${live.public_id}&status=ok`);
    expect(hours.data.map((r: { hour: string; requests: number }) => `${r.hour} ${r.requests}`)).toEqual([
      '2026-10-01T10:00:00Z 4',
      '2026-10-03T23:00:00Z 2',
    ]);
    // every filter applies to grouped reads alike (each one alone, then several)
    const byDay = async (extra: string) =>
      (await get('day', extra)).data.map((r: { day: string; requests: number }) => `${r.day} ${r.requests}`);
    expect(await byDay('&model=claude-7-sonnet')).toEqual(['2026-10-02 3']);
    expect(await byDay('&provider=openai')).toEqual(['2026-10-01 4', '2026-10-03 2']);
    expect(await byDay('&status=error')).toEqual(['2026-10-01 1']);
    expect(await byDay('&kind=live')).toEqual(['2026-10-03 2']);
    expect(await byDay(`&key_id=${other.public_id}&provider=anthropic&status=ok&kind=test`)).toEqual([
      '2026-10-02 3',
    ]);
    expect(await byDay(`&key_id=${other.public_id}&model=gpt-6-luna`)).toEqual([]);
  });

  it('sums partial hours at the edges of the range from the events themselves', async () => {
    // 10:01:30 → 23:51:00 cuts into two seeded hours: 10:02, 10:03 (day 1) … 23:50:30 (day 3)
    const res = await call(
      g.t,
      'GET',
      '/v1/usage?from=2026-10-01T10:01:30Z&to=2026-10-03T23:51:00Z&group_by=day',
      undefined,
      g.session,
    );
    expect(
      res.body.data.map((d: { day: string; requests: number; errors: number }) => [
        d.day,
        d.requests,
        d.errors,
      ]),
    ).toEqual([
      ['2026-10-01', 3, 1],
      ['2026-10-02', 3, 0],
      ['2026-10-03', 1, 0],
    ]);
    // by hour: each partial hour under its own hour, the whole ones between from the rollups
    const hours = await call(
      g.t,
      'GET',
      '/v1/usage?from=2026-10-01T10:01:30Z&to=2026-10-03T23:51:00Z&group_by=hour',
      undefined,
      g.session,
    );
    expect(
      hours.body.data.map((d: { hour: string; requests: number; latency_p50_ms: number }) => [
        d.hour,
        d.requests,
        d.latency_p50_ms,
      ]),
    ).toEqual([
      ['2026-10-01T10:00:00Z', 2, 323], // 300 and 400 ms: the p50 is the upper bound of 300's bucket, [256, 323)
      ['2026-10-01T11:00:00Z', 1, 51],
      ['2026-10-02T08:00:00Z', 3, 1024],
      ['2026-10-03T23:00:00Z', 1, 11], // 10 ms, in [8, 11)
    ]);
    // and a range inside one hour
    const inside = await call(
      g.t,
      'GET',
      '/v1/usage?from=2026-10-01T10:00:30Z&to=2026-10-01T10:02:30Z&group_by=model',
      undefined,
      g.session,
    );
    expect(inside.body.data).toMatchObject([{ model: 'gpt-6-luna', requests: 2, prompt_tokens: 20 }]);
  });

  it('answers 400 naming the parameter for every invalid filter', async () => {
    const cases: Array<[string, string]> = [
      ['from=yesterday', 'from'],
      ['from=2026-02-30', 'from'],
      ['to=2026-10-01T00:00:00+02:00', 'to'],
      ['from=2026-10-05T00:00:00Z&to=2026-10-01T00:00:00Z', 'to'],
      ['from=2026-10-01T00:00:00Z&to=2026-10-01T00:00:00Z', 'to'],
      ['from=2025-01-01T00:00:00Z&to=2026-02-06T00:00:00Z', 'from'],
      ['key_id=not-a-key', 'key_id'],
      ['model=a%20b', 'model'],
      ['provider=azure', 'provider'],
      ['status=fine', 'status'],
      ['kind=prod', 'kind'],
      ['group_by=week', 'group_by'],
      ['group_by=day,model,key', 'group_by'],
      ['group_by=hour,day', 'group_by'],
      ['group_by=model,model', 'group_by'],
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=ten', 'limit'],
      ['group_by=day&limit=10', 'limit'],
      ['format=xlsx', 'format'],
      ['cursor=abc', 'cursor'],
      ['colour=blue', 'colour'],
      ['model=a&model=b', 'model'],
    ];
    for (const [query, param] of cases) {
      const res = await call(g.t, 'GET', `/v1/usage?${query}`, undefined, g.session);
      expect({ query, status: res.status, param: res.body.error?.param }).toEqual({
        query,
        status: 400,
        param,
      });
      expect(res.body.error.type).toBe('invalid_request_error');
    }
    // 400 days exactly is allowed
    expect(
      (
        await call(
          g.t,
          'GET',
          '/v1/usage?from=2025-09-01T00:00:00Z&to=2026-10-06T00:00:00Z',
          undefined,
          g.session,
        )
      ).status,
    ).toBe(200);
  });

  it('defaults to the current billing period', async () => {
    const res = await call(g.t, 'GET', '/v1/usage', undefined, g.session);
    const credits = await call(g.t, 'GET', '/v1/credits', undefined, g.session);
    expect(res.status).toBe(200);
    expect(res.body.from).toBe(credits.body.period.start);
    expect(res.body.to).toBe(credits.body.period.end);
    expect(res.body.data).toEqual([]); // the seeded traffic is in October 2026
  });
});
