import { beforeAll, describe, expect, it } from 'vitest';
import { UsagePartitions } from '../../src/usage/usage.partitions.js';
import { call, signup } from '../support/app.js';
import { useGateway } from '../support/gateway.js';
import { accountOf, keysOf, seed, type Seed } from './support.js';

const RANGE = 'from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z';

/** A minimal RFC 4180 reader: rows of cells. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else {
      cell += c;
    }
  }
  return rows;
}

describe('usage pages, CSV and partitions', () => {
  const g = useGateway();
  let accountId: string;
  let keyId: string;
  let seeded: string[];

  beforeAll(async () => {
    accountId = accountOf(g.session);
    keyId = (await keysOf(g.t, accountId))[0].id;
    // 1,100 events over October, 25 of them in the same microsecond (ties broken by id)
    const seeds: Seed[] = [];
    for (let i = 0; i < 1_075; i++) {
      seeds.push({ at: new Date(Date.UTC(2026, 9, 1) + i * 37 * 60_000).toISOString(), keyId, prompt: i });
    }
    for (let i = 0; i < 25; i++) {
      seeds.push({ at: '2026-10-20T12:00:00.123456Z', keyId, prompt: 5_000 + i });
    }
    seeded = [];
    for (let i = 0; i < seeds.length; i += 500) {
      seeded.push(...(await seed(g.t, accountId, seeds.slice(i, i + 500))));
    }
  });

  it('pages through every event once, newest first, while new events arrive', async () => {
    const seen: string[] = [];
    let late: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await call(
        g.t,
        'GET',
        `/v1/usage?${RANGE}&limit=97${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        undefined,
        g.session,
      );
      expect(res.status).toBe(200);
      seen.push(...res.body.data.map((e: { id: string }) => e.id));
      cursor = res.body.next_cursor;
      expect(res.body.has_more).toBe(cursor !== null);
      if (pages === 0) {
        // new traffic after the first page: one newer than the cursor (never shifts the pages that follow), one
        // that lands late, deep in the history (shows up once, where it belongs)
        late = await seed(g.t, accountId, [
          { at: '2026-10-31T23:00:00Z', keyId },
          { at: '2026-10-20T12:00:00.123456Z', keyId },
        ]);
      }
      pages++;
    } while (cursor);
    expect(pages).toBe(Math.ceil(1_101 / 97));
    expect(new Set(seen).size).toBe(seen.length); // nothing twice
    expect(new Set(seen)).toEqual(new Set([...seeded, late[1]])); // nothing skipped
    seeded.push(...late);
    // the largest page is 1,000
    const big = await call(g.t, 'GET', `/v1/usage?${RANGE}&limit=1000`, undefined, g.session);
    expect(big.body.data).toHaveLength(1_000);
    expect(big.body.has_more).toBe(true);
  });

  it('refuses a cursor that was altered, or replayed with other filters or by another account', async () => {
    const first = await call(g.t, 'GET', `/v1/usage?${RANGE}&limit=5`, undefined, g.session);
    const cursor: string = first.body.next_cursor;
    const [body, mac] = cursor.split('.');
    const forged = Buffer.from(
      JSON.stringify(['2030-01-01T00:00:00.000000Z', '999999999', 0, 4102444800000]),
    ).toString('base64url');
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    for (const [query, token] of [
      [`${RANGE}&cursor=${forged}.${mac}`, g.session],
      [`${RANGE}&cursor=${body}.${flip(mac)}`, g.session],
      [`${RANGE}&cursor=${flip(body)}.${mac}`, g.session],
      [`${RANGE}&model=gpt-6-luna&cursor=${cursor}`, g.session],
      [`${RANGE}&cursor=${cursor}`, (await signup(g.t)).token],
    ] as const) {
      const res = await call(g.t, 'GET', `/v1/usage?${query}`, undefined, token);
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe('cursor');
    }
    // unchanged, it works: the second page follows the first
    const second = await call(
      g.t,
      'GET',
      `/v1/usage?${RANGE}&limit=5&cursor=${cursor}`,
      undefined,
      g.session,
    );
    expect(second.status).toBe(200);
    expect(
      second.body.data[0].created_at < first.body.data[4].created_at ||
        second.body.data[0].id !== first.body.data[4].id,
    ).toBe(true);
  });

  it('streams every event as CSV with a header row, and cells a spreadsheet cannot run', async () => {
    const [evil] = await seed(g.t, accountId, [
      {
        at: '2026-10-15T00:00:00Z',
        keyId,
        status: 'failed',
        modelRequested: '=HYPERLINK("http://evil.example","click")',
      },
      { at: '2026-10-15T00:00:01Z', keyId, modelRequested: "+cmd|' /C calc'!A0", model: '@SUM(A1:A9)' },
      { at: '2026-10-15T00:00:02Z', keyId, modelRequested: '-2+3,\n\tx', model: 'gpt-6-luna' },
    ]);
    const res = await fetch(`${g.t.url}/v1/usage?${RANGE}&format=csv`, {
      headers: { authorization: `Bearer ${g.session}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toContain('attachment');
    const text = await res.text();
    const rows = parseCsv(text);
    expect(rows[0]).toEqual([
      'id',
      'created_at',
      'key_id',
      'kind',
      'model_requested',
      'model_served',
      'provider',
      'attempts',
      'stream',
      'status',
      'outcome',
      'http_status',
      'error_code',
      'prompt_tokens',
      'completion_tokens',
      'cached_tokens',
      'reasoning_tokens',
      'total_tokens',
      'credits',
      'latency_ms',
      'ttft_ms',
      'estimated',
    ]);
    const json = new Set<string>();
    let cursor: string | null = null;
    do {
      const page = await call(
        g.t,
        'GET',
        `/v1/usage?${RANGE}&limit=1000${cursor ? `&cursor=${cursor}` : ''}`,
        undefined,
        g.session,
      );
      page.body.data.forEach((e: { id: string }) => json.add(e.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(rows.slice(1).map((r) => r[0])).toEqual([...json]); // the same events, in the same order
    // no cell starts with a formula character
    for (const row of rows.slice(1)) {
      for (const cell of row) {
        expect(cell).not.toMatch(/^[=+\-@\t\r]/);
      }
    }
    const byId = new Map(rows.map((r) => [r[0], r]));
    expect(byId.get(evil)![4]).toBe(`'=HYPERLINK("http://evil.example","click")`);
    expect(rows.some((r) => r[4] === "'+cmd|' /C calc'!A0" && r[5] === "'@SUM(A1:A9)")).toBe(true);
    expect(rows.some((r) => r[4] === "'-2+3,\n\tx")).toBe(true);

    const grouped = await fetch(`${g.t.url}/v1/usage?${RANGE}&format=csv&group_by=day,model`, {
      headers: { authorization: `Bearer ${g.session}` },
    });
    const groups = parseCsv(await grouped.text());
    expect(groups[0]).toEqual([
      'day',
      'model',
      'requests',
      'errors',
      'prompt_tokens',
      'completion_tokens',
      'cached_tokens',
      'total_tokens',
      'credits',
      'latency_p50_ms',
      'latency_p95_ms',
    ]);
    expect(groups.slice(1).reduce((sum, r) => sum + Number(r[2]), 0)).toBe(json.size);
    expect(groups.some((r) => r[1] === `'=HYPERLINK("http://evil.example","click")`)).toBe(true);
    expect(groups.some((r) => r[1] === "'@SUM(A1:A9)")).toBe(true);
  });

  it('moves a month into its own partition, and drops raw events past retention while the rollups stay', async () => {
    const before = (await call(g.t, 'GET', `/v1/usage?${RANGE}&group_by=day`, undefined, g.session)).body
      .data;
    const partitions = g.t.app.get(UsagePartitions);
    const made = await partitions.maintain(new Date('2026-10-15T00:00:00Z'));
    expect(made.created).toBe(1); // October (November was made by the migration)
    const where = await g.t.db.query(
      `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM usage_events
        WHERE account_id = $1 GROUP BY 1`,
      [accountId],
    );
    expect(where).toEqual([{ part: 'usage_events_2026_10', n: expect.any(Number) }]);
    expect(
      (await call(g.t, 'GET', `/v1/usage?${RANGE}&group_by=day`, undefined, g.session)).body.data,
    ).toEqual(before);

    // 400 days after November began, October's raw events go (its partition dropped whole); November's stay
    const later = await partitions.maintain(new Date(Date.UTC(2026, 10, 1) + 400 * 86_400_000 + 3_600_000));
    expect(later.dropped).toBe(1);
    const parts = await g.t.db.query(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'usage_events'::regclass ORDER BY 1`,
    );
    expect(parts.map((p: { relname: string }) => p.relname)).not.toContain('usage_events_2026_10');
    expect(parts.map((p: { relname: string }) => p.relname)).toContain('usage_events_2026_11');
    expect((await call(g.t, 'GET', `/v1/usage?${RANGE}`, undefined, g.session)).body.data).toEqual([]);
    expect(
      (await call(g.t, 'GET', `/v1/usage?${RANGE}&group_by=day`, undefined, g.session)).body.data,
    ).toEqual(before);
  });
});
