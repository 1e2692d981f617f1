import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/**
 * `npm run build && node dist/bench/startup.js`: how fast the built gateway (`dist/src/main.js`) is ready and how much memory it holds.
 * Each run spawns the real entry point, polls `GET /health/ready` every 20 ms until 200, and reads the process's
 * VmRSS from /proc at ready and after 5 s idle, and the CPU time it used until ready (less sensitive than the wall time
 * to other work on the machine). After the idle readings (built and postgres runs), it signs up, creates a test key
 * and times the first chat completion, which pays for what start-up left to first use. Scenarios:
 *   - pglite fresh: an empty PGLITE_DATA_DIR (initdb + every migration),
 *   - pglite built: the same directory started again (what every later start costs),
 *   - postgres: a fresh database on DATABASE_URL's server (skipped when the server does not answer).
 * BENCH_RUNS (default 5) sets the repetitions; BENCH_SCENARIOS (e.g. `pglite` or `postgres`) narrows them;
 * BENCH_IDLE_MS (default 5000) sets the idle wait; BENCH_LONG_IDLE_MS (default 0: skipped) adds a later RSS reading;
 * BENCH_NODE_ARGS passes flags to the gateway's node; BENCH_MAIN lists builds to compare, run by run, e.g.
 * `BENCH_MAIN=../before/dist/src/main.js,dist/src/main.js` (an older build, e.g. in a git worktree with its own
 * node_modules).
 */
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 5000);
const SCENARIOS = (process.env.BENCH_SCENARIOS ?? 'pglite,postgres').split(',');
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const LONG_IDLE_MS = Number(process.env.BENCH_LONG_IDLE_MS ?? 0);
const MAINS = (process.env.BENCH_MAIN ?? fileURLToPath(new URL('../src/main.js', import.meta.url))).split(
  ',',
);
const TIMEOUT_MS = 60_000;

interface Sample {
  readyMs: number;
  /** CPU time (user + system, all threads) the process used until ready: less sensitive to a busy machine. */
  cpuMs: number;
  rssReadyMiB: number;
  rssIdleMiB: number;
  rssLongIdleMiB: number;
  /** The first chat completion after the idle wait (sign-up, a test key, then one request): what lazy loading costs. */
  firstChatMs: number;
  rssAfterChatMiB: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1]);
  return kib / 1024;
}

const TICKS_PER_MS = 100 / 1000; // USER_HZ is 100 on Linux

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime, stime, and those of waited-for children (the initdb of a new embedded database)
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / TICKS_PER_MS;
}

async function post(
  url: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Sign-up, a test key, then one chat completion: the time of the completion alone. */
async function firstChat(base: string): Promise<number> {
  const signup = await post(`${base}/auth/signup`, {
    email: 'bench@example.com',
    password: 'a-long-password',
  });
  const key = await post(`${base}/v1/keys`, { name: 'bench', kind: 'test' }, String(signup.json.token));
  const started = performance.now();
  const chat = await post(
    `${base}/v1/chat/completions`,
    {
      model: 'gpt-6-luna',
      messages: [{ role: 'user', content: 'Hello! How long does the first request take?' }],
    },
    String(key.json.key),
  );
  const ms = performance.now() - started;
  if (chat.status !== 200) {
    throw new Error(`first chat request: ${chat.status} ${JSON.stringify(chat.json)}`);
  }
  return ms;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

async function startOnce(main: string, env: Record<string, string>, chat: boolean): Promise<Sample> {
  const port = await freePort();
  let output = '';
  const started = performance.now();
  const child = spawn(process.execPath, [...NODE_ARGS, main], {
    env: {
      ...process.env,
      DATABASE_URL: '',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    let readyMs = 0;
    let cpu = 0;
    while (readyMs === 0) {
      if (child.exitCode !== null) {
        throw new Error(`the gateway exited (${child.exitCode}) before it was ready:\n${output}`);
      }
      if (performance.now() - started > TIMEOUT_MS) {
        throw new Error(`not ready after ${TIMEOUT_MS} ms:\n${output}`);
      }
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health/ready`);
        await res.arrayBuffer();
        if (res.status === 200) {
          readyMs = performance.now() - started;
          cpu = cpuMs(child.pid!);
          break;
        }
      } catch {
        // not listening yet
      }
      await sleep(20);
    }
    const rssReadyMiB = rssMiB(child.pid!);
    await sleep(IDLE_MS);
    const rssIdleMiB = rssMiB(child.pid!);
    let rssLongIdleMiB = NaN;
    if (LONG_IDLE_MS > IDLE_MS) {
      await sleep(LONG_IDLE_MS - IDLE_MS);
      rssLongIdleMiB = rssMiB(child.pid!);
    }
    const firstChatMs = chat ? await firstChat(`http://127.0.0.1:${port}`) : NaN;
    const rssAfterChatMiB = chat ? rssMiB(child.pid!) : NaN;
    return { readyMs, cpuMs: cpu, rssReadyMiB, rssIdleMiB, rssLongIdleMiB, firstChatMs, rssAfterChatMiB };
  } finally {
    child.kill('SIGTERM');
    await exited(child);
  }
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function postgresAvailable(): Promise<boolean> {
  try {
    await admin((client) => client.query('SELECT 1'));
    return true;
  } catch {
    return false;
  }
}

const COLUMNS: [string, (s: Sample) => number][] = [
  ['ready ms', (s) => s.readyMs],
  ['CPU ms to ready', (s) => s.cpuMs],
  ['RSS ready MiB', (s) => s.rssReadyMiB],
  [`RSS ${IDLE_MS / 1000} s MiB`, (s) => s.rssIdleMiB],
  ...(LONG_IDLE_MS > IDLE_MS
    ? [
        [`RSS ${LONG_IDLE_MS / 1000} s MiB`, (s: Sample) => s.rssLongIdleMiB] as [
          string,
          (s: Sample) => number,
        ],
      ]
    : []),
  ['1st chat ms', (s) => s.firstChatMs],
  ['RSS after MiB', (s) => s.rssAfterChatMiB],
];

function cell(values: number[]): string {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) {
    return '–';
  }
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const f = (v: number) => v.toFixed(0);
  return `${f(median)} (${f(sorted[0])}–${f(sorted[sorted.length - 1])})`;
}

function table(results: Record<string, Sample[]>): string {
  const rows = [
    ['scenario', ...COLUMNS.map(([title]) => title)],
    ...Object.entries(results).map(([name, samples]) => [
      name,
      ...COLUMNS.map(([, pick]) => cell(samples.map(pick))),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((text, i) => text.padEnd(widths[i])).join('  ')).join('\n') + '\n';
}

async function main(): Promise<void> {
  const results: Record<string, Sample[]> = {};
  const record = (name: string, sample: Sample) => {
    (results[name] ??= []).push(sample);
    process.stderr.write(
      `${name}: ready ${sample.readyMs.toFixed(0)} ms (CPU ${sample.cpuMs.toFixed(0)} ms), RSS ` +
        `${sample.rssReadyMiB.toFixed(0)} MiB at ready, ${sample.rssIdleMiB.toFixed(0)} MiB idle` +
        (Number.isNaN(sample.firstChatMs)
          ? '\n'
          : `, first chat ${sample.firstChatMs.toFixed(0)} ms, then ${sample.rssAfterChatMiB.toFixed(0)} MiB\n`),
    );
  };
  const withPostgres = SCENARIOS.includes('postgres') && (await postgresAvailable());
  const label = (main: string, scenario: string) =>
    MAINS.length > 1 ? `${basename(dirname(dirname(main)))}: ${scenario}` : scenario;
  for (let run = 0; run < RUNS; run++) {
    for (const main of MAINS) {
      if (SCENARIOS.includes('pglite')) {
        const dir = mkdtempSync(join(tmpdir(), 'conflux-startup-'));
        try {
          const env = { PGLITE_DATA_DIR: join(dir, 'pglite') };
          record(label(main, 'pglite fresh'), await startOnce(main, env, false));
          record(label(main, 'pglite built'), await startOnce(main, env, true));
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
      if (withPostgres) {
        const name = `conflux_startup_${process.pid}_${run}`;
        await admin((client) => client.query(`CREATE DATABASE ${name}`));
        try {
          const url = new URL(ADMIN_URL);
          url.pathname = `/${name}`;
          record(label(main, 'postgres'), await startOnce(main, { DATABASE_URL: url.toString() }, true));
        } finally {
          await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
        }
      }
    }
  }
  process.stdout.write(
    `\nConflux Router start-up: ${RUNS} runs, median (min–max); idle = ${IDLE_MS / 1000} s after ready; ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}${NODE_ARGS.length ? `; node ${NODE_ARGS.join(' ')}` : ''}\n\n${table(results)}`,
  );
  if (SCENARIOS.includes('postgres') && !withPostgres) {
    process.stdout.write(`postgres: skipped (${ADMIN_URL} does not answer)\n`);
  }
}

await main();
