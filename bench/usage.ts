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

/**
 * The read side of usage at a busy customer's scale (part of `npm run bench`, also `node dist/bench/usage.js`):
 * BENCH_USAGE_EVENTS (10,000,000) usage events of one account over 90 days, generated in SQL into a fresh
 * Postgres database (monthly partitions, hourly rollups as the settlement batch writes them), then the p50/p95
 * of `GET /v1/usage` over HTTP: `group_by=day` over 30 days, `group_by=day,model` over 90 days, and a 1,000-event
 * page deep in the history (by cursor, not offset). Targets: p95 ≤ 50 ms grouped, ≤ 100 ms for the page.
 */

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR = path.resolve(HERE, '../../bench/results');
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const EVENTS = Number(process.env.BENCH_USAGE_EVENTS ?? 10_000_000);
const SAMPLES = Number(process.env.BENCH_USAGE_SAMPLES ?? 50);
const CHUNK = 500_000;
const DAY_MS = 86_400_000;
const SECRET = 'bench-usage-secret-bench-usage-secret-0123';

function log(message: string): void {
  process.stdout.write(`[bench:usage] ${message}\n`);
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

async function main(): Promise<string> {
  const name = `conflux_bench_usage_${process.pid}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
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
    const signup = (await (
      await fetch(`${base}/auth/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'bench@example.com', password: 'a-long-password' }),
      })
    ).json()) as { token: string; account: { id: string } };
    const token = signup.token;
    const accountId = signup.account.id;
    for (let i = 0; i < 5; i++) {
      await fetch(`${base}/v1/keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ name: `key ${i}`, kind: 'live' }),
      });
    }
    await db.connect();
    const now = Date.now();
    const start = now - 90 * DAY_MS;
    // the months the events span get their partitions first, as the scheduled job makes them ahead of time
    await db.query(
      `SELECT conflux_usage_partition(m::date)
         FROM generate_series(date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC'), $2::timestamptz AT TIME ZONE 'UTC',
              interval '1 month') m`,
      [new Date(start), new Date(now)],
    );
    const seeded = performance.now();
    for (let from = 1; from <= EVENTS; from += CHUNK) {
      const to = Math.min(EVENTS, from + CHUNK - 1);
      await db.query(
        `INSERT INTO usage_events (request_id, account_id, key_id, test, model_requested, model_served, provider,
             status, http_status, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_micro,
             latency_ms, ttft_ms, streamed, attempts, estimated, created_at)
         SELECT 'req_bench_' || g, $1, k.ids[1 + g % 5], g % 10 = 0, m.name, m.name, m.provider,
                CASE WHEN g % 50 = 0 THEN 'failed' ELSE 'completed' END, CASE WHEN g % 50 = 0 THEN 503 ELSE 200 END,
                50 + g % 500, 20 + g % 300, g % 3 * 10, 0, 1000 + g % 5000, 100 + (g * 7919) % 3000, NULL,
                g % 3 = 0, 1, false, to_timestamp(($2::bigint + (g::bigint * $3::bigint) / $4::bigint) / 1000.0)
           FROM generate_series($5::bigint, $6::bigint) g
          CROSS JOIN (SELECT array_agg(id ORDER BY created_at) AS ids FROM api_keys WHERE account_id = $1) k
          CROSS JOIN LATERAL (SELECT (ARRAY['gpt-6-luna','claude-7-sonnet','gemini-3.8-flash','llama-5-70b',
                 'gpt-6-nova','qwen-4-32b'])[1 + g % 6] AS name,
                 (ARRAY['openai','anthropic','gemini','cerebras','openai','groq'])[1 + g % 6] AS provider) m`,
        [accountId, start, now - start, EVENTS, from, to],
      );
      log(`seeded ${to.toLocaleString('en')} events`);
    }
    await db.query(
      `INSERT INTO usage_rollups (account_id, hour, key_id, model, provider, test, ok, requests, prompt_tokens,
           completion_tokens, cached_tokens, cost_micro, ${LATENCY_COLUMNS.join(', ')})
       SELECT account_id, date_trunc('hour', created_at, 'UTC'), key_id, coalesce(model_served, model_requested),
              coalesce(provider, ''), test, status IN ('completed', 'aborted'), count(*), sum(prompt_tokens),
              sum(completion_tokens), sum(cached_tokens), sum(cost_micro),
              ${LATENCY_COLUMNS.map((_, b) => `count(*) FILTER (WHERE lb.b = ${b})`).join(', ')}
         FROM usage_events CROSS JOIN LATERAL (SELECT conflux_latency_bucket(latency_ms) AS b) lb
        WHERE account_id = $1 GROUP BY 1, 2, 3, 4, 5, 6, 7`,
      [accountId],
    );
    await db.query(`ANALYZE`);
    const seedS = (performance.now() - seeded) / 1000;
    log(`seeded and rolled up in ${seedS.toFixed(0)} s`);

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
    const rows: string[] = [];
    for (const [label, pathAndQuery, target] of scenarios) {
      const times: number[] = [];
      for (let i = 0; i < SAMPLES + 3; i++) {
        const t0 = performance.now();
        const res = await fetch(base + pathAndQuery, { headers: { authorization: `Bearer ${token}` } });
        const body = await res.text();
        if (res.status !== 200) {
          throw new Error(`${label}: ${res.status} ${body.slice(0, 200)}`);
        }
        if (i >= 3) {
          times.push(performance.now() - t0); // the first three warm the caches
        }
      }
      times.sort((a, b) => a - b);
      const [p50, p95] = [percentile(times, 0.5), percentile(times, 0.95)];
      rows.push(`| ${label} | ${p50.toFixed(1)} | ${p95.toFixed(1)} | ≤ ${target} |`);
      log(`${label}: p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms`);
    }
    return [
      `${EVENTS.toLocaleString('en')} usage events of one account over 90 days (seeded in ${seedS.toFixed(0)} s), ` +
        `${SAMPLES} requests each:`,
      '',
      '| GET /v1/usage | p50 (ms) | p95 (ms) | target p95 (ms) |',
      '| --- | --- | --- | --- |',
      ...rows,
    ].join('\n');
  } finally {
    await db.end().catch(() => undefined);
    await app.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

const report = await main();
mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(path.join(RESULTS_DIR, 'usage.md'), `${report}\n`);
process.stdout.write(`\n${report}\n`);
process.exit(0);
