import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { ClosedResult, LoadSpec, OpenResult, StreamsResult } from './load.js';
import * as procs from './processes.js';
import type { Proc } from './processes.js';
import {
  renderReport,
  type BenchResults,
  type RatePass,
  type SaturationPass,
  type StreamsPass,
  type TargetResults,
} from './report.js';

/**
 * `npm run bench`: the gateway measured from outside, as a black box, against a bare pass-through proxy in the
 * same run. Core 0 runs the process under test (the bare proxy, then the gateway: one at a time); core 1 runs
 * this rig, the fake upstream and the load generator. The gateway runs its full live pipeline on a fresh
 * Postgres database and Redis, with 100 live keys of one account on the Pro plan. See the "Benchmark" section of
 * README.md for what each figure means.
 *
 * Environment: BENCH_QUICK=1 (a one-minute smoke run), BENCH_PASSES, BENCH_SATURATION_S, BENCH_RATE_S,
 * BENCH_CONNECTIONS, BENCH_STREAMS, BENCH_KEYS, BENCH_DATABASE_URL (admin URL; a database is created and
 * dropped), BENCH_REDIS_URL, BENCH_KEEP_LOGS=1 (keep the gateway's logs in the temporary directory),
 * BENCH_GATEWAY_NODE_ARGS (node flags for the gateway alone, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */

const HERE = path.dirname(fileURLToPath(import.meta.url)); // dist/bench
const ROOT = path.resolve(HERE, '../..');
const GATEWAY_MAIN = path.join(ROOT, 'dist/src/main.js');
const UPSTREAM_JS = path.join(HERE, 'upstream.js');
const BARE_PROXY_JS = path.join(HERE, 'bare-proxy.js');
const LOAD_JS = path.join(HERE, 'load.js');
const RESULTS_DIR = path.join(ROOT, 'bench/results');

const GATEWAY_NODE_ARGS = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);

const TARGET_CORE = 0;
const LOAD_CORE = 1;

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a whole number ≥ 1, got "${raw}"`);
  }
  return value;
}

const QUICK = process.env.BENCH_QUICK === '1';
const cfg = {
  quick: QUICK,
  passes: envInt('BENCH_PASSES', QUICK ? 1 : 3),
  /** Seconds of each saturation pass (autocannon, closed loop). */
  saturationS: envInt('BENCH_SATURATION_S', QUICK ? 2 : 5),
  /** Seconds of each fixed-rate pass (open loop), for the target and for the upstream directly. */
  rateS: envInt('BENCH_RATE_S', QUICK ? 1 : 4),
  warmupS: QUICK ? 1 : 3,
  connections: envInt('BENCH_CONNECTIONS', 64),
  rates: QUICK ? [200] : [200, 1000, 2000],
  /** At a fixed rate, a request not answered this long after its send counts as failed (bounds a pass). */
  openTimeoutS: QUICK ? 2 : 3,
  /** Time to first byte: streams offered at this (moderate) rate, the upstream sending a frame every 10 ms. */
  ttfb: { rate: envInt('BENCH_TTFB_RATE', 50), chunks: 16, intervalMs: 10 },
  /** Concurrent streams: this many at once, the upstream sending `chunks` frames `intervalMs` apart. */
  streams: {
    count: envInt('BENCH_STREAMS', QUICK ? 200 : 1000),
    chunks: QUICK ? 10 : 20,
    intervalMs: QUICK ? 100 : 250,
    /** What is still open this long after the start of a pass is cut and counted (bounds a pass). */
    deadlineS: QUICK ? 5 : 15,
  },
  keys: envInt('BENCH_KEYS', 100),
  timeoutS: 10,
  keepLogs: process.env.BENCH_KEEP_LOGS === '1',
  /** RSS idle is read this long after ready; RSS after the load this long after the last scenario. */
  settleMs: QUICK ? 500 : 1500,
  afterLoadMs: QUICK ? 1000 : 2000,
  adminUrl: process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
  redisUrl: process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379',
};

const CHAT = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 32 };
const BODY = JSON.stringify(CHAT);
const STREAM_BODY = JSON.stringify({ ...CHAT, stream: true, stream_options: { include_usage: true } });
const CHAT_PATH = '/v1/chat/completions';

const started = performance.now();
function log(message: string): void {
  const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[${seconds}s] ${message}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Children get a minimal environment: nothing from the caller's shell (DATABASE_URL, provider keys…) leaks in. */
function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? os.tmpdir(),
    LANG: process.env.LANG ?? 'C.UTF-8',
    ...extra,
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// Running a load child

interface LoadRun<R> {
  result: R;
  /** CPU ms the watched process used between the load's start and end. */
  cpuMs: number;
  wallMs: number;
  /** % busy of each core over the same window (everything on the machine). */
  coreBusy: number[];
  /** Highest RSS of the watched process, sampled every 50 ms (MiB). */
  peakRssMiB: number;
}

interface LoadOptions {
  /** The process under test: its CPU time (and RSS, with sampleRss) is read over the load. */
  watchPid?: number;
  sampleRss?: boolean;
  /** Called when the load starts and when it ends (e.g. a Postgres sampler). */
  onStart?: () => void;
  onEnd?: () => void;
}

function runLoad<R>(spec: LoadSpec, options: LoadOptions = {}): Promise<LoadRun<R>> {
  const { watchPid, sampleRss = false } = options;
  const proc = procs.spawnPinned(
    'load generator',
    LOAD_CORE,
    [process.execPath, LOAD_JS, JSON.stringify(spec)],
    {
      env: baseEnv(),
      stdout: 'pipe',
    },
  );
  return new Promise((resolve, reject) => {
    let cpuStart = 0;
    let wallStart = 0;
    let coresStart = procs.coreTimes();
    let peakRssMiB = Number.NaN;
    let sampler: NodeJS.Timeout | undefined;
    const sample = () => {
      if (watchPid !== undefined) {
        const rss = procs.rssMiB(watchPid);
        peakRssMiB = Number.isNaN(peakRssMiB) ? rss : Math.max(peakRssMiB, rss);
      }
    };
    procs.lines(proc, (line) => {
      let message: { event?: string; result?: R };
      try {
        // NaN (a percentile of nothing) travels as null: back to NaN
        message = JSON.parse(line, (_key, value: unknown) =>
          value === null ? Number.NaN : value,
        ) as typeof message;
      } catch {
        return;
      }
      if (message.event === 'start') {
        cpuStart = watchPid === undefined ? 0 : procs.cpuMs(watchPid);
        wallStart = performance.now();
        coresStart = procs.coreTimes();
        if (sampleRss && watchPid !== undefined) {
          sample();
          sampler = setInterval(sample, 50);
        }
        options.onStart?.();
      } else if (message.event === 'result' && message.result) {
        clearInterval(sampler);
        options.onEnd?.();
        if (sampleRss) {
          sample();
        }
        resolve({
          result: message.result,
          cpuMs: watchPid === undefined ? Number.NaN : procs.cpuMs(watchPid) - cpuStart,
          wallMs: performance.now() - wallStart,
          coreBusy: procs.coreBusy(coresStart, procs.coreTimes()),
          peakRssMiB,
        });
      }
    });
    void proc.exited.then((code) => {
      clearInterval(sampler);
      options.onEnd?.();
      reject(
        new Error(`the load generator exited (${code}) without a result: ${proc.stderrTail.join('\n')}`),
      );
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// Processes under test

interface Target {
  name: string;
  proc: Proc;
  origin: string;
  authorizations: string[];
  /** The gateway's log file (its stdout), for error messages. */
  logFile?: string;
  /** Starts another instance the same way (for a restart). */
  start: () => Promise<Target>;
}

function logTail(file: string | undefined, lines = 15): string {
  if (!file) {
    return '';
  }
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Polls `GET /health/ready` every 20 ms until a 200: ms from spawn to ready. */
async function waitReady(target: Target, timeoutMs = 60_000): Promise<number> {
  const url = `${target.origin}/health/ready`;
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (!procs.alive(target.proc)) {
      throw new Error(
        `${target.name} exited (${target.proc.child.exitCode ?? target.proc.child.signalCode}) before it was ready\n` +
          `${target.proc.stderrTail.join('\n')}\n${logTail(target.logFile)}`,
      );
    }
    try {
      const answer = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await answer.arrayBuffer();
      if (answer.status === 200) {
        return performance.now() - target.proc.spawnedAt;
      }
    } catch {
      // not listening yet
    }
    await sleep(20);
  }
  throw new Error(`${target.name} was not ready after ${timeoutMs} ms\n${logTail(target.logFile)}`);
}

let tmpDir = '';
let upstreamOrigin = '';
let upstreamProc: Proc | undefined;
let benchDb: { name: string; url: string } | undefined;

async function setUpstreamMode(mode: { delayMs?: number; streamChunks?: number; streamIntervalMs?: number }) {
  const answer = await fetch(`${upstreamOrigin}/__bench/mode`, {
    method: 'POST',
    body: JSON.stringify({ delayMs: 0, streamChunks: 16, streamIntervalMs: 0, ...mode }),
  });
  if (answer.status !== 200) {
    throw new Error(`the fake upstream refused the mode: ${answer.status}`);
  }
  await answer.arrayBuffer();
}

const FAKE_AUTHORIZATIONS = Array.from(
  { length: cfg.keys },
  (_, i) => `Bearer cf_live_bench${String(i).padStart(36, '0')}`,
);

async function startBareProxy(): Promise<Target> {
  const port = await freePort();
  const proc = procs.spawnPinned('bare proxy', TARGET_CORE, [process.execPath, BARE_PROXY_JS], {
    env: baseEnv({ PORT: String(port), UPSTREAM_URL: upstreamOrigin }),
    stdout: 'ignore',
  });
  return {
    name: 'bare proxy',
    proc,
    origin: `http://127.0.0.1:${port}`,
    authorizations: FAKE_AUTHORIZATIONS,
    start: startBareProxy,
  };
}

let gatewayStarts = 0;
async function startGateway(database: 'postgres' | 'pglite', authorizations: string[] = []): Promise<Target> {
  const port = await freePort();
  gatewayStarts += 1;
  const logFile = path.join(tmpDir, `gateway-${gatewayStarts}-${database}.log`);
  const fd = openSync(logFile, 'w');
  const env = baseEnv({
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    JWT_SECRET: 'bench-jwt-secret-bench-jwt-secret-bench',
    RATE_LIMIT_RPM: '100000000',
    // The load generator walks the 100 keys in step on its connections, so a few keys get many requests at once:
    // the per-key concurrency limit (a protection, not a cost) would answer them 429 and count as failures.
    KEY_MAX_CONCURRENT: '100000',
    OPENAI_API_KEY: 'bench',
    OPENAI_BASE_URL: `${upstreamOrigin}/v1`,
    ...(database === 'postgres'
      ? { DATABASE_URL: benchDb!.url, REDIS_URL: cfg.redisUrl }
      : { PGLITE_DATA_DIR: path.join(tmpDir, 'pglite') }),
  });
  const proc = procs.spawnPinned(
    `gateway (${database})`,
    TARGET_CORE,
    [process.execPath, ...GATEWAY_NODE_ARGS, GATEWAY_MAIN],
    {
      env,
      stdout: fd,
    },
  );
  closeSync(fd);
  return {
    name: `gateway (${database})`,
    proc,
    origin: `http://127.0.0.1:${port}`,
    authorizations,
    logFile,
    start: () => startGateway(database, authorizations),
  };
}

/** Starts, waits until ready, lets it settle, reads its RSS, stops: `passes` times. */
async function readyPasses(
  start: () => Promise<Target>,
  into: { readyMs: number[]; rssIdleMiB: number[] },
  settleMs: number,
): Promise<void> {
  for (let pass = 1; pass <= cfg.passes; pass += 1) {
    const target = await start();
    try {
      const readyMs = await waitReady(target);
      await sleep(settleMs);
      const rss = procs.rssMiB(target.proc.pid);
      into.readyMs.push(readyMs);
      into.rssIdleMiB.push(rss);
      log(
        `${target.name}: start ${pass}/${cfg.passes}: ready after ${fx(readyMs, 0)} ms, RSS idle ${fx(rss, 1)} MiB`,
      );
    } finally {
      await procs.stop(target.proc);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Scenarios

function targetSpec(target: { origin: string; authorizations: string[] }, body: string) {
  return {
    origin: target.origin,
    path: CHAT_PATH,
    authorizations: target.authorizations,
    body,
    timeoutS: cfg.timeoutS,
  };
}

const DIRECT = { origin: '', authorizations: FAKE_AUTHORIZATIONS };

async function saturation(
  target: { origin: string; authorizations: string[] },
  pid: number,
  body: string,
  durationS: number,
  hooks: Pick<LoadOptions, 'onStart' | 'onEnd'> = {},
): Promise<SaturationPass> {
  const run = await runLoad<ClosedResult>(
    { mode: 'closed', ...targetSpec(target, body), connections: cfg.connections, durationS },
    { watchPid: pid, ...hooks },
  );
  return {
    rps: run.result.rps,
    cpuMsPerRequest: run.cpuMs / Math.max(1, run.result.responses),
    cpuPercent: (run.cpuMs / run.wallMs) * 100,
    coreBusy: run.coreBusy,
    p50: run.result.p50,
    p99: run.result.p99,
    failures: run.result.failures,
  };
}

async function openLoop(
  target: { origin: string; authorizations: string[] },
  body: string,
  rate: number,
  watchPid?: number,
): Promise<{ result: OpenResult; cpuMsPerRequest: number }> {
  const run = await runLoad<OpenResult>(
    {
      mode: 'open',
      ...targetSpec(target, body),
      timeoutS: cfg.openTimeoutS,
      rate,
      durationS: cfg.rateS,
      connections: 512,
    },
    { watchPid },
  );
  // Per answered request (2xx or not): under overload, the work spent on requests given up is charged to those
  // that got an answer.
  const answered =
    run.result.ok +
    Object.entries(run.result.failures)
      .filter(([kind]) => kind.startsWith('status '))
      .reduce((sum, [, n]) => sum + n, 0);
  return { result: run.result, cpuMsPerRequest: run.cpuMs / Math.max(1, answered) };
}

/** toFixed that survives NaN. */
function fx(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

function failureText(failures: Record<string, number>): string {
  const entries = Object.entries(failures);
  return entries.length === 0 ? '' : `, failures: ${entries.map(([kind, n]) => `${n} × ${kind}`).join(', ')}`;
}

async function concurrentStreams(
  target: { origin: string; authorizations: string[] },
  watchPid?: number,
): Promise<StreamsPass> {
  const run = await runLoad<StreamsResult>(
    {
      mode: 'streams',
      ...targetSpec(target, STREAM_BODY),
      count: cfg.streams.count,
      timeoutS: cfg.streams.deadlineS,
    },
    { watchPid, sampleRss: watchPid !== undefined },
  );
  return { ...run.result, peakRssMiB: run.peakRssMiB };
}

async function warmUp(target: Target, seconds: number): Promise<void> {
  log(`${target.name}: warm-up (${seconds} s non-streaming, ${seconds} s streaming)`);
  await saturation(target, target.proc.pid, BODY, seconds);
  await saturation(target, target.proc.pid, STREAM_BODY, seconds);
}

/** The gateway's own counters of failovers and circuit transitions (its public /metrics), when not zero. */
async function failoverMetrics(target: Target): Promise<string[]> {
  try {
    const answer = await fetch(`${target.origin}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await answer.text();
    return text
      .split('\n')
      .filter((line) => /^conflux_(failovers_total|circuit_breaker_transitions_total)\{/.test(line))
      .filter((line) => Number(line.split(' ').at(-1)) > 0);
  } catch {
    return [];
  }
}

/**
 * Between scenarios: a process left with requests it did not answer (an overloaded pass) is restarted at once
 * rather than waited for while it works through its backlog; otherwise one request must be answered 200 within
 * 5 s, or it is restarted too (same database, same keys), so that one scenario's aftermath (a backlog, an open
 * circuit) does not poison the next. Each restart is listed in the report.
 */
async function gate(target: Target, after: string, results: TargetResults, unanswered = 0): Promise<void> {
  let reason = '';
  if (unanswered > 0) {
    reason = `${unanswered} requests had no answer`;
  } else {
    try {
      const answer = await fetch(`${target.origin}${CHAT_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: target.authorizations[0] },
        body: BODY,
        signal: AbortSignal.timeout(5000),
      });
      const text = await answer.text();
      if (answer.status === 200) {
        return;
      }
      reason = `a check request got ${answer.status} ${text.slice(0, 200)}`;
    } catch (error) {
      reason = `a check request got ${errorText(error)}`;
    }
  }
  results.restarts.push(`after ${after}: ${reason}`);
  log(`${target.name}: after ${after}, ${reason}: restarting it`);
  await restart(target, results);
}

/** Requests of a pass that got no answer at all (given up by the load generator). */
function unanswered(failures: Record<string, number>): number {
  return Object.entries(failures)
    .filter(([kind]) => !kind.startsWith('status '))
    .reduce((sum, [, n]) => sum + n, 0);
}

async function restart(target: Target, results: TargetResults): Promise<void> {
  results.metrics.push(...(await failoverMetrics(target)));
  await procs.stop(target.proc);
  const fresh = await target.start();
  target.proc = fresh.proc;
  target.origin = fresh.origin;
  target.logFile = fresh.logFile;
  await waitReady(target);
  await warmUp(target, 1);
}

/**
 * What the gateway's Postgres sessions are doing, sampled every 100 ms from pg_stat_activity while a load runs:
 * where a gateway that does not use its core waits.
 */
class PgActivity {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  readonly counts: Record<string, number> = {};
  samples = 0;

  constructor(private readonly database: { name: string; url: string }) {}

  async open(): Promise<void> {
    this.client = new pg.Client({ connectionString: cfg.adminUrl, connectionTimeoutMillis: 5000 });
    await this.client.connect();
  }

  start(): void {
    this.timer = setInterval(() => void this.sample(), 100);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async sample(): Promise<void> {
    if (!this.client || this.busy) {
      return;
    }
    this.busy = true;
    try {
      const { rows } = await this.client.query<{
        state: string | null;
        type: string | null;
        event: string | null;
      }>(
        `SELECT state, wait_event_type AS type, wait_event AS event FROM pg_stat_activity
          WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
        [this.database.name],
      );
      this.samples += 1;
      for (const row of rows) {
        const what = `${row.state ?? 'unknown'}${row.type ? ` (${row.type}: ${row.event})` : ''}`;
        this.counts[what] = (this.counts[what] ?? 0) + 1;
      }
    } catch {
      // a missed sample
    } finally {
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    this.stop();
    await this.client?.end().catch(() => undefined);
  }

  /** Average sessions per sample in each state, busiest first. */
  summary(): Array<{ state: string; sessions: number }> {
    return Object.entries(this.counts)
      .map(([state, n]) => ({ state, sessions: n / Math.max(1, this.samples) }))
      .sort((a, b) => b.sessions - a.sessions);
  }
}

/** Every scenario against one process under test (already started and ready). */
async function measureTarget(target: Target, results: TargetResults, activity?: PgActivity): Promise<void> {
  const name = target.name;
  await warmUp(target, cfg.warmupS);

  for (const [kind, body] of [
    ['plain', BODY],
    ['stream', STREAM_BODY],
  ] as const) {
    for (let pass = 1; pass <= cfg.passes; pass += 1) {
      const result = await saturation(
        target,
        target.proc.pid,
        body,
        cfg.saturationS,
        activity && kind === 'plain' ? { onStart: () => activity.start(), onEnd: () => activity.stop() } : {},
      );
      results.saturation[kind].push(result);
      log(
        `${name}: saturation ${kind === 'plain' ? 'non-streaming' : 'streaming'} ${pass}/${cfg.passes}: ` +
          `${fx(result.rps, 0)} req/s, ${fx(result.cpuMsPerRequest, 3)} CPU ms/req, process ${fx(result.cpuPercent, 0)}% of a core, ` +
          `cores ${result.coreBusy.map((busy) => `${fx(busy, 0)}%`).join('/')}${failureText(result.failures)}`,
      );
    }
    await gate(target, `saturation ${kind === 'plain' ? 'non-streaming' : 'streaming'}`, results);
  }
  if (activity) {
    results.pgActivity = activity.summary();
  }

  for (const rate of cfg.rates) {
    const passes: RatePass[] = (results.rates[String(rate)] = []);
    for (let pass = 1; pass <= cfg.passes; pass += 1) {
      const direct = await openLoop({ ...DIRECT, origin: upstreamOrigin }, BODY, rate);
      const through = await openLoop(target, BODY, rate, target.proc.pid);
      passes.push({
        direct: direct.result,
        target: through.result,
        cpuMsPerRequest: through.cpuMsPerRequest,
      });
      log(
        `${name}: ${rate} req/s ${pass}/${cfg.passes}: p50 ${fx(through.result.p50, 2)} ms, p99 ${fx(through.result.p99, 2)} ms ` +
          `(upstream directly ${fx(direct.result.p50, 2)} / ${fx(direct.result.p99, 2)} ms), ` +
          `achieved ${fx(through.result.achieved, 0)} req/s, ${fx(through.cpuMsPerRequest, 3)} CPU ms/req${failureText(through.result.failures)}`,
      );
      const lost = unanswered(through.result.failures);
      await gate(target, `${rate} req/s (pass ${pass})`, results, lost);
      if (lost > 0.05 * through.result.sent && pass < cfg.passes) {
        results.skipped.push(
          `${rate} req/s: passes ${pass + 1}–${cfg.passes} skipped, pass ${pass} was overloaded`,
        );
        log(`${name}: overloaded at ${rate} req/s: the other passes at this rate are skipped`);
        break;
      }
    }
  }

  await setUpstreamMode({ streamChunks: cfg.ttfb.chunks, streamIntervalMs: cfg.ttfb.intervalMs });
  try {
    for (let pass = 1; pass <= cfg.passes; pass += 1) {
      const direct = await openLoop({ ...DIRECT, origin: upstreamOrigin }, STREAM_BODY, cfg.ttfb.rate);
      const through = await openLoop(target, STREAM_BODY, cfg.ttfb.rate, target.proc.pid);
      results.ttfb.push({
        direct: direct.result,
        target: through.result,
        cpuMsPerRequest: through.cpuMsPerRequest,
      });
      log(
        `${name}: stream first byte at ${cfg.ttfb.rate} req/s ${pass}/${cfg.passes}: p50 ${fx(through.result.firstByteP50, 2)} ms, ` +
          `p99 ${fx(through.result.firstByteP99, 2)} ms (upstream directly ${fx(direct.result.firstByteP50, 2)} / ` +
          `${fx(direct.result.firstByteP99, 2)} ms)${failureText(through.result.failures)}`,
      );
      const lost = unanswered(through.result.failures);
      await gate(target, `stream first byte (pass ${pass})`, results, lost);
      if (lost > 0.05 * through.result.sent && pass < cfg.passes) {
        results.skipped.push(
          `stream first byte: passes ${pass + 1}–${cfg.passes} skipped, pass ${pass} was overloaded`,
        );
        break;
      }
    }
  } finally {
    await setUpstreamMode({});
  }

  await setUpstreamMode({ streamChunks: cfg.streams.chunks, streamIntervalMs: cfg.streams.intervalMs });
  try {
    for (let pass = 1; pass <= cfg.passes; pass += 1) {
      const result = await concurrentStreams(target, target.proc.pid);
      results.streams.push(result);
      log(
        `${name}: ${result.count} concurrent streams ${pass}/${cfg.passes}: ${result.firstByteWithin1s} first bytes within 1 s, ` +
          `all after ${fx(result.allFirstByteMs, 0)} ms, ${result.completed} completed, peak RSS ${fx(result.peakRssMiB, 1)} MiB` +
          failureText(result.failures),
      );
      await sleep(500);
      if (pass < cfg.passes) {
        await gate(target, `concurrent streams (pass ${pass})`, results, unanswered(result.failures));
      }
    }
  } finally {
    await setUpstreamMode({});
  }

  // RSS after the load: the process that took it, unless the streams left it unable to answer.
  await sleep(cfg.afterLoadMs);
  results.rssAfterLoadMiB = procs.rssMiB(target.proc.pid);
  log(
    `${name}: RSS after the load ${fx(results.rssAfterLoadMiB, 1)} MiB${results.restarts.length > 0 ? ' (restarted during the run)' : ''}`,
  );
  results.metrics.push(...(await failoverMetrics(target)));
}

// ---------------------------------------------------------------------------------------------------------
// Services and fixture

async function checkRedis(url: string): Promise<void> {
  const parsed = new URL(url);
  await new Promise<void>((resolve, reject) => {
    const socket = createConnection({ host: parsed.hostname, port: Number(parsed.port || 6379) });
    socket.setTimeout(3000, () => socket.destroy(new Error('timed out')));
    socket.once('error', reject);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.end();
      if (data.toString().startsWith('+PONG')) {
        resolve();
      } else {
        reject(new Error(`answered ${JSON.stringify(data.toString().trim())}`));
      }
    });
  });
}

async function onDatabase<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function createBenchDatabase(): Promise<{ name: string; url: string }> {
  const name = `conflux_bench_${process.pid}`;
  await onDatabase(cfg.adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(cfg.adminUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

async function dropBenchDatabase(): Promise<void> {
  if (!benchDb) {
    return;
  }
  const name = benchDb.name;
  benchDb = undefined;
  await onDatabase(cfg.adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

async function postJson(
  url: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const answer = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await answer.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: answer.status, json };
}

/** One account on the Pro plan with `cfg.keys` live keys; checks that a request goes through to the fake. */
async function fixture(gateway: Target): Promise<string[]> {
  const email = `bench-${process.pid}-${Date.now()}@example.com`;
  const signup = await postJson(`${gateway.origin}/auth/signup`, { email, password: 'bench-password-0123' });
  const token = signup.json.token;
  if (signup.status !== 200 && signup.status !== 201) {
    throw new Error(`POST /auth/signup answered ${signup.status}: ${JSON.stringify(signup.json)}`);
  }
  if (typeof token !== 'string') {
    throw new Error(`POST /auth/signup gave no token: ${JSON.stringify(signup.json)}`);
  }
  // Stands in for the admin API that would move an account to a paid plan, which does not exist yet: one SQL
  // statement on the bench's own database, before any key exists (so no cache holds the Free plan).
  const updated = await onDatabase(benchDb!.url, (client) =>
    client.query(`UPDATE accounts SET plan = 'pro' WHERE lower(email) = lower($1)`, [email]),
  );
  if (updated.rowCount !== 1) {
    throw new Error(`could not put the bench account on the Pro plan (${updated.rowCount} rows)`);
  }
  const keys: string[] = [];
  for (let first = 0; first < cfg.keys; first += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, cfg.keys - first) }, (_, i) =>
        postJson(`${gateway.origin}/v1/keys`, { name: `bench ${first + i}`, kind: 'live' }, token),
      ),
    );
    for (const created of batch) {
      if (typeof created.json.key !== 'string') {
        throw new Error(`POST /v1/keys answered ${created.status}: ${JSON.stringify(created.json)}`);
      }
      keys.push(created.json.key);
    }
  }
  // One request of each kind must reach the fake through the OpenAI adapter before anything is measured.
  for (const body of [BODY, STREAM_BODY]) {
    const answer = await fetch(`${gateway.origin}${CHAT_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys[0]}` },
      body,
    });
    const text = await answer.text();
    const provider = answer.headers.get('x-conflux-provider');
    if (
      answer.status !== 200 ||
      provider !== 'openai' ||
      (body === STREAM_BODY && !text.includes('[DONE]'))
    ) {
      throw new Error(
        `a check request answered ${answer.status} (provider ${provider}): ${text.slice(0, 500)}`,
      );
    }
  }
  const credits = await fetch(`${gateway.origin}/v1/credits`, {
    headers: { authorization: `Bearer ${keys[0]}` },
  });
  const plan = ((await credits.json()) as { plan?: string }).plan;
  if (plan !== 'pro') {
    throw new Error(`the bench account is on the "${plan}" plan, not "pro"`);
  }
  return keys.map((key) => `Bearer ${key}`);
}

// ---------------------------------------------------------------------------------------------------------

function machine(): BenchResults['machine'] {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? 'unknown CPU';
  const mhz = /cpu MHz\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim();
  const taskset = spawnSync('taskset', ['-p', String(process.pid)], { encoding: 'utf8' }).stdout.trim();
  return {
    cpu: mhz ? `${model} (${Number(mhz).toFixed(0)} MHz)` : model,
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: os.release(),
    date: new Date().toISOString(),
    loadAverage: os.loadavg().map((value) => Number(value.toFixed(2))),
    rigAffinity: taskset,
  };
}

function emptyTarget(): TargetResults {
  return {
    readyMs: [],
    rssIdleMiB: [],
    saturation: { plain: [], stream: [] },
    rates: {},
    ttfb: [],
    streams: [],
    restarts: [],
    skipped: [],
    metrics: [],
  };
}

let cleaningUp: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaningUp ??= (async () => {
    await procs.stopAll();
    try {
      await dropBenchDatabase();
    } catch (error) {
      process.stderr.write(`could not drop the bench database: ${errorText(error)}\n`);
    }
    if (tmpDir && cfg.keepLogs) {
      process.stdout.write(`gateway logs kept in ${tmpDir}\n`);
    } else if (tmpDir) {
      rmSync(tmpDir, { recursive: true, force: true });
    }
  })();
  return cleaningUp;
}

async function main(): Promise<number> {
  if (os.cpus().length < 2) {
    throw new Error('the rig needs 2 cores: core 0 for the process under test, core 1 for the load');
  }
  procs.pinSelf(LOAD_CORE);
  const results: BenchResults = {
    machine: machine(),
    config: { ...cfg, adminUrl: cfg.adminUrl.replace(/\/\/[^@/]*@/, '//…@') },
    direct: { saturation: { plain: [], stream: [] }, streams: [] },
    bare: emptyTarget(),
    gateway: emptyTarget(),
    pglite: { readyMs: [], rssIdleMiB: [] },
    problems: [],
    elapsedS: 0,
  };
  log(
    `Conflux Router bench${QUICK ? ' (quick)' : ''}: ${results.machine.cpu}, ${results.machine.cores} cores, Node ${results.machine.node}; ` +
      `${cfg.passes} pass(es) per scenario`,
  );

  try {
    await onDatabase(cfg.adminUrl, (client) => client.query('SELECT 1'));
  } catch (error) {
    throw new Error(
      `Postgres is not reachable at BENCH_DATABASE_URL (${cfg.adminUrl}): ${errorText(error)}. Start it as in DEVELOPERS.md.`,
    );
  }
  try {
    await checkRedis(cfg.redisUrl);
  } catch (error) {
    throw new Error(
      `Redis is not reachable at BENCH_REDIS_URL (${cfg.redisUrl}): ${errorText(error)}. Start it as in DEVELOPERS.md.`,
    );
  }

  tmpDir = mkdtempSync(path.join(os.tmpdir(), 'conflux-bench-'));
  upstreamProc = procs.spawnPinned('fake upstream', LOAD_CORE, [process.execPath, UPSTREAM_JS], {
    env: baseEnv({ PORT: '0' }),
    stdout: 'pipe',
  });
  upstreamOrigin = `http://127.0.0.1:${await procs.announcedPort(upstreamProc)}`;
  log(`fake upstream on ${upstreamOrigin} (core ${LOAD_CORE})`);

  const phase = async (name: string, into: { error?: string }, body: () => Promise<void>) => {
    try {
      await body();
    } catch (error) {
      into.error = errorText(error);
      results.problems.push(`${name}: ${into.error}`);
      log(`${name} FAILED: ${into.error}`);
    }
  };

  // The fake upstream alone (it and the load generator share core 1): the most core 1 can feed.
  await phase('fake upstream directly', results.direct, async () => {
    const pid = upstreamProc!.pid;
    const upstream = { ...DIRECT, origin: upstreamOrigin };
    await saturation(upstream, pid, BODY, cfg.warmupS);
    for (const [kind, body] of [
      ['plain', BODY],
      ['stream', STREAM_BODY],
    ] as const) {
      for (let pass = 1; pass <= cfg.passes; pass += 1) {
        const result = await saturation(upstream, pid, body, cfg.saturationS);
        results.direct.saturation[kind].push(result);
        log(
          `fake upstream directly, ${kind === 'plain' ? 'non-streaming' : 'streaming'} ${pass}/${cfg.passes}: ${fx(result.rps, 0)} req/s, ` +
            `upstream ${fx(result.cpuMsPerRequest * 1000, 0)} CPU µs/req, cores ${result.coreBusy.map((busy) => `${fx(busy, 0)}%`).join('/')}` +
            failureText(result.failures),
        );
      }
    }
    await setUpstreamMode({ streamChunks: cfg.streams.chunks, streamIntervalMs: cfg.streams.intervalMs });
    try {
      for (let pass = 1; pass <= cfg.passes; pass += 1) {
        const result = await concurrentStreams(upstream);
        results.direct.streams.push(result);
        log(
          `fake upstream directly, ${result.count} concurrent streams ${pass}/${cfg.passes}: ${result.firstByteWithin1s} first bytes within 1 s, ` +
            `all after ${fx(result.allFirstByteMs, 0)} ms${failureText(result.failures)}`,
        );
        await sleep(500);
      }
    } finally {
      await setUpstreamMode({});
    }
  });

  await phase('bare proxy', results.bare, async () => {
    const bare = await startBareProxy();
    try {
      results.bare.firstStart = { readyMs: await waitReady(bare), rssIdleMiB: Number.NaN };
      await sleep(cfg.settleMs);
      results.bare.firstStart.rssIdleMiB = procs.rssMiB(bare.proc.pid);
      await measureTarget(bare, results.bare);
    } finally {
      await procs.stop(bare.proc);
    }
    await readyPasses(startBareProxy, results.bare, cfg.settleMs);
  });

  await phase('gateway on Postgres + Redis', results.gateway, async () => {
    benchDb = await createBenchDatabase();
    log(`database ${benchDb.name} created; Redis at ${cfg.redisUrl}`);
    const gateway = await startGateway('postgres');
    try {
      results.gateway.firstStart = { readyMs: await waitReady(gateway), rssIdleMiB: Number.NaN };
      await sleep(cfg.settleMs);
      results.gateway.firstStart.rssIdleMiB = procs.rssMiB(gateway.proc.pid);
      log(
        `gateway: first start (migrations on an empty database) ready after ${fx(results.gateway.firstStart.readyMs, 0)} ms, ` +
          `RSS ${fx(results.gateway.firstStart.rssIdleMiB, 1)} MiB`,
      );
      gateway.authorizations = await fixture(gateway);
      log(`gateway: account on the Pro plan with ${gateway.authorizations.length} live keys`);
      const activity = new PgActivity(benchDb);
      await activity.open();
      try {
        await measureTarget(gateway, results.gateway, activity);
      } finally {
        await activity.close();
      }
    } catch (error) {
      const tail = logTail(gateway.logFile);
      throw new Error(`${errorText(error)}${tail ? `\nlast lines of the gateway's log:\n${tail}` : ''}`);
    } finally {
      await procs.stop(gateway.proc);
    }
    await readyPasses(() => startGateway('postgres'), results.gateway, cfg.settleMs);
  });

  await phase('gateway on PGlite', results.pglite, async () => {
    const gateway = await startGateway('pglite');
    try {
      results.pglite.firstStart = { readyMs: await waitReady(gateway), rssIdleMiB: Number.NaN };
      await sleep(cfg.settleMs);
      results.pglite.firstStart.rssIdleMiB = procs.rssMiB(gateway.proc.pid);
      log(
        `gateway (pglite): first start (creates the data directory, migrations) ready after ` +
          `${fx(results.pglite.firstStart.readyMs, 0)} ms`,
      );
    } finally {
      await procs.stop(gateway.proc);
    }
    await readyPasses(() => startGateway('pglite'), results.pglite, cfg.settleMs);
  });

  results.elapsedS = (performance.now() - started) / 1000;
  const markdown = renderReport(results);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(path.join(RESULTS_DIR, 'latest.md'), markdown);
  writeFileSync(path.join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\n${markdown}\n`);
  log(`written to bench/results/latest.md and bench/results/latest.json`);
  return results.problems.length === 0 ? 0 : 1;
}

process.on('exit', procs.killAllSync);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping everything the bench started`);
    void cleanup().finally(() => process.exit(130));
  });
}

let code = 1;
try {
  code = await main();
} catch (error) {
  process.stderr.write(`bench failed: ${errorText(error)}\n`);
} finally {
  await cleanup();
}
process.exit(code);
