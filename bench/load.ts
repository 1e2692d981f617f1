import autocannon from 'autocannon';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { percentile } from './stats.js';

/**
 * The load generator, one child process per measurement (bench/run.ts starts it pinned to core 1 with taskset):
 * `node dist/bench/load.js '<LoadSpec as JSON>'`. It prints `{"event":"start"}` when the load begins (the rig
 * reads the CPU time of the process under test then) and `{"event":"result","result":{…}}` when it ends.
 *
 * - `closed`: autocannon, N connections sending back to back for D seconds: saturation throughput.
 * - `open`: a fixed offered rate (requests sent every 1/rate s whatever the answers, an open loop) through an
 *   undici pool: latency at a given load, time to first byte of streams. autocannon's own `overallRate` is not
 *   used for this: it lets each connection send its share of the second back to back and then wait for the next
 *   second, so its "1,000 req/s" arrives as bursts.
 * - `streams`: N streaming requests sent at once, each on its own connection: when each got its first byte.
 *
 * Requests go to `origin + path` with `authorizations[i % n]` (the gateway's many keys), JSON body `body`.
 */

interface Target {
  origin: string;
  path: string;
  authorizations: string[];
  body: string;
  /** Seconds before a request counts as timed out. */
  timeoutS: number;
}

export type LoadSpec =
  | (Target & { mode: 'closed'; connections: number; durationS: number })
  | (Target & { mode: 'open'; rate: number; durationS: number; connections: number })
  | (Target & { mode: 'streams'; count: number });

/** Failures by kind: `status 503`, `UND_ERR_HEADERS_TIMEOUT`, … */
export type Failures = Record<string, number>;

export interface ClosedResult {
  /** 2xx answers per second. */
  rps: number;
  ok: number;
  responses: number;
  durationS: number;
  p50: number;
  p99: number;
  failures: Failures;
}

export interface OpenResult {
  offered: number;
  sent: number;
  ok: number;
  /** 2xx answers per second, from the first send to the last answer. */
  achieved: number;
  /** Latency of the whole answer (ms, from the send), 2xx only. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Time to the first body byte (ms, from the send), 2xx only. */
  firstByteP50: number;
  firstByteP99: number;
  /** How late the generator sent, against the schedule (ms): a check that it kept up. */
  sendLagP99: number;
  failures: Failures;
}

export interface StreamsResult {
  count: number;
  /** ms from the start until all requests had been handed to the sockets. */
  dispatchMs: number;
  /** Streams whose first body byte arrived within 1 s of the start. */
  firstByteWithin1s: number;
  /** ms from the start until the last stream's first byte (NaN if some never got one). */
  allFirstByteMs: number;
  firstByteP50: number;
  /** Streams that ended with a 200 and [DONE]. */
  completed: number;
  durationMs: number;
  failures: Failures;
}

function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function count(failures: Failures, kind: string): void {
  failures[kind] = (failures[kind] ?? 0) + 1;
}

function failureKind(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return error instanceof Error ? error.name : 'error';
}

function headers(spec: Target, index: number): Record<string, string> {
  return {
    'content-type': 'application/json',
    authorization: spec.authorizations[index % spec.authorizations.length],
  };
}

async function closed(spec: Extract<LoadSpec, { mode: 'closed' }>): Promise<ClosedResult> {
  emit({ event: 'start' });
  const result = await autocannon({
    url: spec.origin,
    connections: spec.connections,
    duration: spec.durationS,
    timeout: spec.timeoutS,
    requests: spec.authorizations.map((_, index) => ({
      method: 'POST',
      path: spec.path,
      headers: headers(spec, index),
      body: spec.body,
    })),
  });
  const failures: Failures = {};
  for (const [status, stats] of Object.entries(
    result.statusCodeStats as unknown as Record<string, { count: number }>,
  )) {
    if (!status.startsWith('2')) {
      failures[`status ${status}`] = stats.count;
    }
  }
  if (result.timeouts > 0) {
    failures.timeout = result.timeouts;
  }
  if (result.errors - result.timeouts > 0) {
    failures['connection error'] = result.errors - result.timeouts;
  }
  const ok = result['2xx'];
  return {
    rps: ok / result.duration,
    ok,
    responses: ok + result.non2xx,
    durationS: result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures,
  };
}

async function open(spec: Extract<LoadSpec, { mode: 'open' }>): Promise<OpenResult> {
  const pool = new Pool(spec.origin, {
    connections: spec.connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: spec.timeoutS * 1000,
    bodyTimeout: spec.timeoutS * 1000,
  });
  const total = Math.max(1, Math.round(spec.rate * spec.durationS));
  const interval = 1000 / spec.rate;
  const latencies: number[] = [];
  const firstBytes: number[] = [];
  const lags: number[] = [];
  const failures: Failures = {};
  let sent = 0;
  let done = 0;
  let lastEnd = 0;
  emit({ event: 'start' });
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const fire = (index: number, scheduled: number) => {
      const start = performance.now();
      lags.push(start - scheduled);
      // The deadline counts from the send, time queued in the pool included.
      const signal = AbortSignal.timeout(spec.timeoutS * 1000);
      pool
        .request({ method: 'POST', path: spec.path, headers: headers(spec, index), body: spec.body, signal })
        .then(async (answer) => {
          let first = Number.NaN;
          for await (const _chunk of answer.body) {
            if (Number.isNaN(first)) {
              first = performance.now();
            }
          }
          const end = performance.now();
          lastEnd = Math.max(lastEnd, end);
          if (answer.statusCode >= 200 && answer.statusCode < 300) {
            latencies.push(end - start);
            firstBytes.push((Number.isNaN(first) ? end : first) - start);
          } else {
            count(failures, `status ${answer.statusCode}`);
          }
        })
        .catch((error: unknown) =>
          count(failures, signal.aborted ? `no answer within ${spec.timeoutS} s` : failureKind(error)),
        )
        .finally(() => {
          done += 1;
          if (done === total) {
            resolve();
          }
        });
    };
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - t0) / interval) + 1);
      while (sent < due) {
        fire(sent, t0 + sent * interval);
        sent += 1;
      }
      if (sent < total) {
        setTimeout(tick, 1);
      }
    };
    tick();
  });
  await pool.close();
  latencies.sort((a, b) => a - b);
  firstBytes.sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  return {
    offered: spec.rate,
    sent,
    ok: latencies.length,
    achieved: latencies.length / ((Math.max(lastEnd, t0 + 1) - t0) / 1000),
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? Number.NaN,
    firstByteP50: percentile(firstBytes, 50),
    firstByteP99: percentile(firstBytes, 99),
    sendLagP99: percentile(lags, 99),
    failures,
  };
}

async function streams(spec: Extract<LoadSpec, { mode: 'streams' }>): Promise<StreamsResult> {
  const pool = new Pool(spec.origin, {
    connections: spec.count + 16,
    pipelining: 1,
    headersTimeout: spec.timeoutS * 1000,
    bodyTimeout: spec.timeoutS * 1000,
  });
  const firstBytes: number[] = [];
  const failures: Failures = {};
  let completed = 0;
  // One deadline for the whole pass (timeoutS from the start): what is still open then is cut and counted.
  const signal = AbortSignal.timeout(spec.timeoutS * 1000);
  emit({ event: 'start' });
  const t0 = performance.now();
  const requests: Array<Promise<void>> = [];
  for (let index = 0; index < spec.count; index += 1) {
    let first = Number.NaN;
    requests.push(
      pool
        .request({ method: 'POST', path: spec.path, headers: headers(spec, index), body: spec.body, signal })
        .then(async (answer) => {
          let tail = '';
          for await (const chunk of answer.body as AsyncIterable<Buffer>) {
            if (Number.isNaN(first)) {
              first = performance.now() - t0;
            }
            tail = (tail + chunk.toString()).slice(-64);
          }
          if (answer.statusCode !== 200) {
            count(failures, `status ${answer.statusCode}`);
            return;
          }
          firstBytes.push(first);
          if (tail.includes('[DONE]')) {
            completed += 1;
          } else {
            count(failures, 'stream ended without [DONE]');
          }
        })
        .catch((error: unknown) => {
          if (!signal.aborted) {
            count(failures, failureKind(error));
          } else if (Number.isNaN(first)) {
            count(failures, `no first byte within ${spec.timeoutS} s`);
          } else {
            firstBytes.push(first);
            count(failures, `not finished within ${spec.timeoutS} s`);
          }
        }),
    );
  }
  const dispatchMs = performance.now() - t0;
  await Promise.all(requests);
  const durationMs = performance.now() - t0;
  await pool.destroy();
  firstBytes.sort((a, b) => a - b);
  return {
    count: spec.count,
    dispatchMs,
    firstByteWithin1s: firstBytes.filter((ms) => ms <= 1000).length,
    allFirstByteMs: firstBytes.length === spec.count ? (firstBytes.at(-1) ?? Number.NaN) : Number.NaN,
    firstByteP50: percentile(firstBytes, 50),
    completed,
    durationMs,
    failures,
  };
}

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
const result =
  spec.mode === 'closed' ? await closed(spec) : spec.mode === 'open' ? await open(spec) : await streams(spec);
emit({ event: 'result', result });
process.exit(0);
