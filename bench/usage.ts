import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createApp } from '../src/app.js';
import { deriveKey } from '../src/common/seal.js';
import { loadConfig } from '../src/config/config.js';
import { CursorCodec } from '../src/usage/cursor.js';
import { LATENCY_COLUMNS } from '../src/usage/latency.js';
import { lines, pinSelf, spawnPinned } from './processes.js';

/**
 * The read side of usage at a busy customer's scale (part of `npm run bench`, also `node dist/bench/usage.js`):
 * BENCH_USAGE_EVENTS (10,000,000) usage events of one account over 90 days, generated in SQL into a fresh
 * Postgres database (monthly partitions, hourly and daily rollups as the settlement batch writes them), then the p50/p95
 * of `GET /v1/usage` over HTTP: `group_by=day` over 30 days, `group_by=day,model` over 90 days, and a 1,000-event
 * page deep in the history (by cursor, not offset). Targets: p95 ≤ 50 ms grouped, ≤ 100 ms for the page.
 */

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR = path.resolve(HERE, '../../bench/results');
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const EVENTS = Number(process.env.BENCH_USAGE_EVENTS ?? 10_000_000);
/** Keep the seeded database (to EXPLAIN its queries); BENCH_USAGE_DATABASE then reads it again without seeding. */
const KEEP = process.env.BENCH_USAGE_KEEP === '1';
const REUSE = process.env.BENCH_USAGE_DATABASE;
const SAMPLES = Number(process.env.BENCH_USAGE_SAMPLES ?? 50);
const PASSES = Number(process.env.BENCH_USAGE_PASSES ?? 3);
const CHUNK = 500_000;
const DAY_MS = 86_400_000;
const SECRET = 'bench-usage-secret-bench-usage-secret-0123';

function log(message: string): void {
  process.stdout.write(`[bench:usage] ${message}\n`);
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/**
 * Seeds EVENTS events of the account over the 90 days before `now` (5 live keys, 6 models, 10 % test traffic, 2 %
 * failures), then their hourly rollups; returns the seconds it took (partitions, events, rollups, VACUUM, CHECKPOINT).
 */
async function seedEvents(
  base: string,
  token: string,
  db: pg.Client,
  url: URL,
  accountId: string,
  now: number,
): Promise<number> {
  for (let i = 0; i < 5; i++) {
    await fetch(`${base}/v1/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ name: `key ${i}`, kind: 'live' }),
    });
  }
  const start = now - 90 * DAY_MS;
  const seeded = performance.now();
  // the months the events span get their partitions first, as the scheduled job makes them ahead of time
  await db.query(
    `SELECT conflux_usage_partition(m::date)
       FROM generate_series(date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC'), $2::timestamptz AT TIME ZONE 'UTC',
            interval '1 month') m`,
    [new Date(start), new Date(now)],
  );
  // Two connections (the machine's two cores), each seeding half of the 90 days. Bench-only shortcuts, in its own
  // throwaway database: the foreign keys are not checked row by row (session_replication_role = replica; every
  // row names the account and one of its keys), ids are given rather than drawn from the sequence (set after).
  const seeders = [0, 1].map(() => new pg.Client({ connectionString: url.toString() }));
  await Promise.all(seeders.map((c) => c.connect()));
  try {
    await Promise.all(seeders.map((c) => c.query(`SET session_replication_role = replica`)));
    const half = Math.ceil(EVENTS / 2);
    await Promise.all(
      seeders.map(async (c, worker) => {
        const last = worker === 0 ? half : EVENTS;
        for (let from = worker === 0 ? 1 : half + 1; from <= last; from += CHUNK) {
          const to = Math.min(last, from + CHUNK - 1);
          await c.query(
            `INSERT INTO usage_events (id, request_id, account_id, key_id, test, model_requested, model_served,
                 provider, status, http_status, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens,
                 cost_micro, latency_ms, ttft_ms, streamed, attempts, estimated, created_at)
             SELECT g, 'req_bench_' || lpad(g::text, 10, '0'), $1, k.ids[1 + g % 5], g % 10 = 0,
                    m.names[1 + g % 6], m.names[1 + g % 6], m.providers[1 + g % 6],
                    CASE WHEN g % 50 = 0 THEN 'failed' ELSE 'completed' END,
                    CASE WHEN g % 50 = 0 THEN 503 ELSE 200 END,
                    50 + g % 500, 20 + g % 300, g % 3 * 10, 0, 1000 + g % 5000, 100 + (g * 7919) % 3000, NULL,
                    g % 3 = 0, 1, false, to_timestamp(($2::bigint + (g * $3::bigint) / $4::bigint) / 1000.0)
               FROM (SELECT array_agg(id ORDER BY created_at) AS ids FROM api_keys WHERE account_id = $1) k,
                    (SELECT ARRAY['gpt-6-luna','claude-7-sonnet','gemini-3.8-flash','llama-5-70b','gpt-6-nova',
                            'qwen-4-32b'] AS names,
                            ARRAY['openai','anthropic','gemini','cerebras','openai','groq'] AS providers) m,
                    generate_series($5::bigint, $6::bigint) g`,
            [accountId, start, now - start, EVENTS, from, to],
          );
          log(`seeded events ${from.toLocaleString('en')}..${to.toLocaleString('en')}`);
        }
      }),
    );
    await db.query(`SELECT setval('usage_events_id_seq', $1)`, [EVENTS]);
    const eventsS = (performance.now() - seeded) / 1000;
    log(`${EVENTS.toLocaleString('en')} events in ${eventsS.toFixed(0)} s`);
    // The hourly rollups, computed from the seeded events as the settlement batch would have summed them: counts
    // per latency bucket first (one narrow aggregate), then pivoted into the histogram's columns. Each connection
    // rolls up half of the hours (disjoint, so the two never meet on a row).
    const middle = new Date(Math.floor((start + (now - start) / 2) / 3_600_000) * 3_600_000);
    const ranges: Array<[Date, Date]> = [
      [new Date(start - 3_600_000), middle],
      [middle, new Date(now + 3_600_000)],
    ];
    await Promise.all(
      seeders.map((c, worker) =>
        c.query(
          `INSERT INTO usage_rollups (account_id, hour, key_id, model, provider, test, ok, requests, prompt_tokens,
               completion_tokens, cached_tokens, cost_micro, ${LATENCY_COLUMNS.join(', ')})
           SELECT account_id, hour, key_id, model, provider, test, ok, sum(n), sum(p), sum(c), sum(ca), sum(co),
                  ${LATENCY_COLUMNS.map((_, b) => `coalesce(sum(n) FILTER (WHERE b = ${b}), 0)`).join(', ')}
             FROM (SELECT account_id, date_trunc('hour', created_at, 'UTC') AS hour, key_id,
                          coalesce(model_served, model_requested) AS model, coalesce(provider, '') AS provider, test,
                          status IN ('completed', 'aborted') AS ok, conflux_latency_bucket(latency_ms) AS b,
                          count(*) AS n, sum(prompt_tokens) AS p, sum(completion_tokens) AS c,
                          sum(cached_tokens) AS ca, sum(cost_micro) AS co
                     FROM usage_events
                    WHERE account_id = $1 AND key_id IS NOT NULL AND created_at >= $2 AND created_at < $3
                    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) per_bucket
            GROUP BY 1, 2, 3, 4, 5, 6, 7`,
          [accountId, ...ranges[worker]],
        ),
      ),
    );
    log(`rolled up in ${((performance.now() - seeded) / 1000 - eventsS).toFixed(0)} s`);
    await db.query(
      `INSERT INTO usage_rollups_daily (account_id, day, key_id, model, provider, test, ok, requests, prompt_tokens,
           completion_tokens, cached_tokens, cost_micro, ${LATENCY_COLUMNS.join(', ')})
       SELECT account_id, date_trunc('day', hour, 'UTC'), key_id, model, provider, test, ok, sum(requests),
              sum(prompt_tokens), sum(completion_tokens), sum(cached_tokens), sum(cost_micro),
              ${LATENCY_COLUMNS.map((l) => `sum(${l})`).join(', ')}
         FROM usage_rollups WHERE account_id = $1 GROUP BY 1, 2, 3, 4, 5, 6, 7`,
      [accountId],
    );
    // Settled as 90 days of traffic would be: vacuumed (visibility maps set, so autovacuum does not start on the
    // fresh rows during the reads) and checkpointed (the seed's dirty pages written before the reads, not during).
    await Promise.all([
      seeders[0].query(`VACUUM (ANALYZE) usage_events`),
      seeders[1].query(`VACUUM (ANALYZE) usage_rollups, usage_rollups_daily`),
    ]);
    await db.query(`CHECKPOINT`);
  } finally {
    await Promise.all(seeders.map((c) => c.end().catch(() => undefined)));
  }

  const seedS = (performance.now() - seeded) / 1000;
  log(`seeded and rolled up in ${seedS.toFixed(0)} s`);
  return seedS;
}

/** Runs the bench's client (bench/usage-client.ts) on core 0 and returns its times, one array per path. */
async function clientTimes(plan: {
  base: string;
  token: string;
  warmup: number;
  samples: number;
  paths: string[];
}): Promise<number[][]> {
  const client = spawnPinned(
    'usage client',
    0,
    [process.execPath, path.join(HERE, 'usage-client.js'), JSON.stringify(plan)],
    {
      env: process.env,
      stdout: 'pipe',
    },
  );
  const results: number[][] = [];
  lines(client, (line) => results.push((JSON.parse(line) as { times: number[] }).times));
  const code = await client.exited;
  if (code !== 0 || results.length !== plan.paths.length) {
    throw new Error(`the usage client failed (exit ${code}): ${client.stderrTail.join('\n')}`);
  }
  return results;
}

async function main(): Promise<string> {
  const name = REUSE ?? `conflux_bench_usage_${process.pid}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  if (!REUSE) {
    await admin.query(`CREATE DATABASE ${name}`);
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const app = await createApp(
    loadConfig({
      DATABASE_URL: url.toString(),
      JWT_SECRET: SECRET,
      LOG_LEVEL: 'warn',
      PORT: '0',
      HOST: '127.0.0.1',
    }),
  );
  const db = new pg.Client({ connectionString: url.toString() });
  try {
    await app.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
    const auth = (await (
      await fetch(`${base}/auth/${REUSE ? 'login' : 'signup'}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'bench@example.com', password: 'a-long-password' }),
      })
    ).json()) as { token: string };
    const token = auth.token;
    const accountId = (
      JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as { sub: string }
    ).sub;
    await db.connect();
    let now = Date.now();
    let seedS = 0;
    if (REUSE) {
      // the seeded data ends at the seeding's "now": the ranges are read relative to it
      const rows = (await db.query(`SELECT max(created_at) AS last FROM usage_events`)).rows as Array<{
        last: Date;
      }>;
      now = rows[0].last.getTime() + 1;
    } else {
      seedS = await seedEvents(base, token, db, url, accountId, now);
    }
    const iso = (ms: number) => new Date(ms).toISOString();
    const codec = new CursorCodec(deriveKey('usage-cursor', SECRET));
    const deepFrom = now - 90 * DAY_MS;
    const deepTo = now;
    // a cursor 80 days deep, as a client paging that far would hold (scope: the account and the filters given)
    const deep = codec.encode(
      { createdAt: iso(now - 80 * DAY_MS).replace('Z', '000Z'), id: '0', from: deepFrom, to: deepTo },
      [accountId, iso(deepFrom), iso(deepTo), '', '', '', '', ''].join('\n'),
    );
    const scenarios: Array<[string, string, number]> = [
      ['group_by=day, 30 days', `/v1/usage?group_by=day&from=${iso(now - 30 * DAY_MS)}&to=${iso(now)}`, 50],
      [
        'group_by=day,model, 90 days',
        `/v1/usage?group_by=day,model&from=${iso(now - 90 * DAY_MS)}&to=${iso(now)}`,
        50,
      ],
      [
        '1,000 events, 80 days deep (cursor)',
        `/v1/usage?limit=1000&from=${iso(deepFrom)}&to=${iso(deepTo)}&cursor=${deep}`,
        100,
      ],
    ];
    // PASSES passes over the three reads, SAMPLES requests each per pass (after 20 that warm the caches and the JIT:
    // the first 40 grouped reads of a process took 30 ms at p50 where later ones take 18), made by a
    // client process of its own on the other core: the p50/p95 of each pass, reported as their min–max, so that a
    // noisy pass shows as a spread.
    const perPass = scenarios.map(() => ({ p50: [] as number[], p95: [] as number[] }));
    for (let pass = 1; pass <= PASSES; pass++) {
      const passTimes = await clientTimes({
        base,
        token,
        warmup: 20,
        samples: SAMPLES,
        paths: scenarios.map(([, pathAndQuery]) => pathAndQuery),
      });
      for (const [s, [label]] of scenarios.entries()) {
        const times = passTimes[s].sort((x, y) => x - y);
        const [p50, p95] = [percentile(times, 0.5), percentile(times, 0.95)];
        perPass[s].p50.push(p50);
        perPass[s].p95.push(p95);
        log(`pass ${pass}: ${label}: p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms`);
      }
    }
    const range = (values: number[]) => `${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)}`;
    const rows = scenarios.map(
      ([label, , target], s) =>
        `| ${label} | ${range(perPass[s].p50)} | ${range(perPass[s].p95)} | ≤ ${target} |`,
    );
    return [
      `${EVENTS.toLocaleString('en')} usage events of one account over 90 days` +
        (REUSE ? ` (database ${name}, seeded before)` : ` (seeded in ${seedS.toFixed(0)} s)`) +
        `, ${PASSES} passes of ${SAMPLES} requests per read (min–max of the passes' percentiles):`,
      '',
      '| GET /v1/usage | p50 (ms) | p95 (ms) | target p95 (ms) |',
      '| --- | --- | --- | --- |',
      ...rows,
    ].join('\n');
  } finally {
    await db.end().catch(() => undefined);
    await app.close();
    if (KEEP || REUSE) {
      log(`kept the database ${name} (drop it with: DROP DATABASE ${name} WITH (FORCE))`);
    } else {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
    await admin.end();
  }
}

// The bench's own process (the gateway) on core 1, its client on core 0, as bench/run.ts pins its rig; Postgres is
// not pinned.
pinSelf(1);
const report = await main();
mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(path.join(RESULTS_DIR, 'usage.md'), `${report}\n`);
process.stdout.write(`\n${report}\n`);
process.exit(0);
