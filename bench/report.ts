import type { Failures, OpenResult, StreamsResult } from './load.js';
import { cell, num, summarize, type Summary } from './stats.js';

/** What the rig measured (bench/results/latest.json) and the markdown table made from it (latest.md). */

export interface SaturationPass {
  /** 2xx answers per second. */
  rps: number;
  cpuMsPerRequest: number;
  /** CPU of the process under test over the pass, in % of one core. */
  cpuPercent: number;
  /** % busy of each core over the pass (everything on the machine: Postgres, Redis, other work). */
  coreBusy: number[];
  p50: number;
  p99: number;
  failures: Failures;
}

/** One fixed-rate pass: the upstream called directly, then through the process, at the same rate. */
export interface RatePass {
  direct: OpenResult;
  target: OpenResult;
  cpuMsPerRequest: number;
}

export type StreamsPass = StreamsResult & { peakRssMiB: number };

export interface TargetResults {
  /** The start whose instance was measured (for the gateway: migrations on an empty database). */
  firstStart?: { readyMs: number; rssIdleMiB: number };
  /** Restarts: spawn → `GET /health/ready` 200, and RSS 1.5 s later. */
  readyMs: number[];
  rssIdleMiB: number[];
  saturation: { plain: SaturationPass[]; stream: SaturationPass[] };
  /** By offered rate. */
  rates: Record<string, RatePass[]>;
  ttfb: RatePass[];
  streams: StreamsPass[];
  rssAfterLoadMiB?: number;
  /** Why the process was restarted between scenarios (unanswered requests, or a failed check request). */
  restarts: string[];
  /** Passes not run because an earlier one at the same rate was overloaded. */
  skipped: string[];
  /** The gateway's Postgres sessions during non-streaming saturation: average sessions per state. */
  pgActivity?: Array<{ state: string; sessions: number }>;
  /** Non-zero failover and circuit counters from the process's /metrics (the gateway's), before each stop. */
  metrics: string[];
  error?: string;
}

export interface BenchResults {
  machine: {
    cpu: string;
    cores: number;
    memoryGiB: number;
    node: string;
    kernel: string;
    date: string;
    loadAverage: number[];
    rigAffinity: string;
  };
  config: Record<string, unknown> & {
    quick: boolean;
    passes: number;
    saturationS: number;
    rateS: number;
    connections: number;
    rates: number[];
    ttfb: { rate: number; chunks: number; intervalMs: number };
    streams: { count: number; chunks: number; intervalMs: number };
    keys: number;
    settleMs: number;
    afterLoadMs: number;
  };
  direct: {
    saturation: { plain: SaturationPass[]; stream: SaturationPass[] };
    streams: StreamsPass[];
    error?: string;
  };
  bare: TargetResults;
  gateway: TargetResults;
  pglite: {
    firstStart?: { readyMs: number; rssIdleMiB: number };
    readyMs: number[];
    rssIdleMiB: number[];
    error?: string;
  };
  problems: string[];
  elapsedS: number;
}

function merge(all: Failures[]): Failures {
  const out: Failures = {};
  for (const failures of all) {
    for (const [kind, n] of Object.entries(failures)) {
      out[kind] = (out[kind] ?? 0) + n;
    }
  }
  return out;
}

/** ` ⚠ 12 failed (10 × status 503, 2 × timeout)` over all passes, or nothing. */
function failed(all: Failures[]): string {
  const failures = merge(all);
  const total = Object.values(failures).reduce((sum, n) => sum + n, 0);
  if (total === 0) {
    return '';
  }
  return ` ⚠ ${num(total)} failed (${Object.entries(failures)
    .map(([kind, n]) => `${num(n)} × ${kind}`)
    .join(', ')})`;
}

function of<T>(passes: readonly T[], pick: (pass: T) => number): Summary | undefined {
  return summarize(passes.map(pick));
}

type Verdict = 'yes' | 'NO' | '—';

interface Row {
  scenario: string;
  direct: string;
  bare: string;
  gateway: string;
  target: string;
  met: Verdict;
}

function verdict(value: number | undefined, ok: (value: number) => boolean): Verdict {
  return value === undefined || !Number.isFinite(value) ? '—' : ok(value) ? 'yes' : 'NO';
}

export function renderReport(r: BenchResults): string {
  const rows: Row[] = [];
  const row = (scenario: string, cells: Partial<Omit<Row, 'scenario'>>) =>
    rows.push({ scenario, direct: '', bare: '', gateway: '', target: '', met: '—', ...cells });
  const c = r.config;

  // Saturation
  for (const [kind, label] of [
    ['plain', 'non-streaming'],
    ['stream', `streaming (${16} chunks + usage)`],
  ] as const) {
    const direct = r.direct.saturation[kind];
    const bare = r.bare.saturation[kind];
    const gateway = r.gateway.saturation[kind];
    const bareRps = of(bare, (p) => p.rps);
    const gatewayRps = of(gateway, (p) => p.rps);
    const ratio = bareRps && gatewayRps ? gatewayRps.median / bareRps.median : undefined;
    const gatewayCpu = of(gateway, (p) => p.cpuMsPerRequest);
    row(`Saturation, ${label}, ${c.connections} connections (req/s)`, {
      direct: cell(of(direct, (p) => p.rps)) + failed(direct.map((p) => p.failures)),
      bare: cell(bareRps) + failed(bare.map((p) => p.failures)),
      gateway: cell(gatewayRps) + failed(gateway.map((p) => p.failures)),
      target: `ratio ${ratio === undefined ? 'n/a' : num(ratio, 2)}; ≥ 0.25`,
      met: verdict(ratio, (value) => value >= 0.25),
    });
    row(`… CPU of the process under test (% of one core)`, {
      direct: `${cell(of(direct, (p) => p.cpuPercent))} (the upstream)`,
      bare: cell(of(bare, (p) => p.cpuPercent)),
      gateway: cell(of(gateway, (p) => p.cpuPercent)),
      target: '≈ 100: core 0 saturated',
    });
    row(`… cores 0 / 1 busy, whole machine (%)`, {
      direct: coreCell(direct),
      bare: coreCell(bare),
      gateway: coreCell(gateway),
      target: 'core 1 ≈ 100: the load side limits',
    });
    row(`… CPU ms per request`, {
      direct: `${cell(
        of(direct, (p) => p.cpuMsPerRequest),
        3,
      )} (the upstream)`,
      bare: cell(
        of(bare, (p) => p.cpuMsPerRequest),
        3,
      ),
      gateway: cell(gatewayCpu, 3),
      target: '≤ 0.5',
      met: verdict(gatewayCpu?.median, (value) => value <= 0.5),
    });
  }

  // Fixed offered rates
  for (const rate of c.rates) {
    const bare = r.bare.rates[String(rate)] ?? [];
    const gateway = r.gateway.rates[String(rate)] ?? [];
    const directs = [...bare, ...gateway].map((p) => p.direct);
    const judged = rate === 1000;
    const added = (passes: RatePass[], pick: (result: OpenResult) => number) =>
      of(passes, (p) => pick(p.target) - pick(p.direct));
    const addedP50 = added(gateway, (x) => x.p50);
    const addedP99 = added(gateway, (x) => x.p99);
    const cpu = of(gateway, (p) => p.cpuMsPerRequest);
    const skipped = (passes: RatePass[]) =>
      passes.length > 0 && passes.length < c.passes ? ` (${passes.length} pass: overloaded)` : '';
    row(`${num(rate)} req/s offered: achieved (req/s)`, {
      direct: cell(summarize(directs.map((x) => x.achieved))) + failed(directs.map((x) => x.failures)),
      bare:
        cell(of(bare, (p) => p.target.achieved)) + skipped(bare) + failed(bare.map((p) => p.target.failures)),
      gateway:
        cell(of(gateway, (p) => p.target.achieved)) +
        skipped(gateway) +
        failed(gateway.map((p) => p.target.failures)),
    });
    row(`… load generator's send lag behind its schedule, p99 (ms)`, {
      direct: cell(summarize(directs.map((x) => x.sendLagP99)), 2),
      bare: cell(
        of(bare, (p) => p.target.sendLagP99),
        2,
      ),
      gateway: cell(
        of(gateway, (p) => p.target.sendLagP99),
        2,
      ),
      target: 'small: the generator kept up',
    });
    row(`… added latency p50 (ms)`, {
      direct: `${cell(summarize(directs.map((x) => x.p50)), 2)} (p50 itself)`,
      bare: cell(
        added(bare, (x) => x.p50),
        2,
      ),
      gateway: cell(addedP50, 2),
      target: judged ? '≤ 1' : '',
      met: judged ? verdict(addedP50?.median, (value) => value <= 1) : '—',
    });
    row(`… added latency p99 (ms)`, {
      direct: `${cell(summarize(directs.map((x) => x.p99)), 2)} (p99 itself)`,
      bare: cell(
        added(bare, (x) => x.p99),
        2,
      ),
      gateway: cell(addedP99, 2),
      target: judged ? '≤ 5' : '',
      met: judged ? verdict(addedP99?.median, (value) => value <= 5) : '—',
    });
    const overloaded = (passes: RatePass[]) =>
      passes.some((p) => Object.keys(p.target.failures).length > 0) ? ' ⚠ not all answered' : '';
    row(`… CPU ms per answered request`, {
      bare:
        cell(
          of(bare, (p) => p.cpuMsPerRequest),
          3,
        ) + overloaded(bare),
      gateway: cell(cpu, 3) + overloaded(gateway),
    });
  }

  // Time to first byte of streams
  {
    const bare = r.bare.ttfb;
    const gateway = r.gateway.ttfb;
    const directs = [...bare, ...gateway].map((p) => p.direct);
    const label = `Stream first byte at ${num(c.ttfb.rate)} req/s (frames ${c.ttfb.intervalMs} ms apart)`;
    row(`${label}: p50 (ms)`, {
      direct: cell(summarize(directs.map((x) => x.firstByteP50)), 2) + failed(directs.map((x) => x.failures)),
      bare:
        cell(
          of(bare, (p) => p.target.firstByteP50),
          2,
        ) + failed(bare.map((p) => p.target.failures)),
      gateway:
        cell(
          of(gateway, (p) => p.target.firstByteP50),
          2,
        ) + failed(gateway.map((p) => p.target.failures)),
    });
    row(`… p99 (ms)`, {
      direct: cell(summarize(directs.map((x) => x.firstByteP99)), 2),
      bare: cell(
        of(bare, (p) => p.target.firstByteP99),
        2,
      ),
      gateway: cell(
        of(gateway, (p) => p.target.firstByteP99),
        2,
      ),
    });
    row(`… added p50 / p99 (ms)`, {
      bare: `${cell(
        of(bare, (p) => p.target.firstByteP50 - p.direct.firstByteP50),
        2,
      )} / ${cell(
        of(bare, (p) => p.target.firstByteP99 - p.direct.firstByteP99),
        2,
      )}`,
      gateway: `${cell(
        of(gateway, (p) => p.target.firstByteP50 - p.direct.firstByteP50),
        2,
      )} / ${cell(
        of(gateway, (p) => p.target.firstByteP99 - p.direct.firstByteP99),
        2,
      )}`,
    });
  }

  // Concurrent streams
  {
    const n = c.streams.count;
    const streams = (passes: StreamsPass[], pick: (pass: StreamsPass) => number, digits = 0) =>
      cell(of(passes, pick), digits);
    const within = of(r.gateway.streams, (p) => p.firstByteWithin1s);
    const peak = of(r.gateway.streams, (p) => p.peakRssMiB);
    row(
      `${num(n)} concurrent streams (${c.streams.chunks} frames ${c.streams.intervalMs} ms apart): first byte within 1 s`,
      {
        direct:
          streams(r.direct.streams, (p) => p.firstByteWithin1s) +
          failed(r.direct.streams.map((p) => p.failures)),
        bare:
          streams(r.bare.streams, (p) => p.firstByteWithin1s) + failed(r.bare.streams.map((p) => p.failures)),
        gateway:
          streams(r.gateway.streams, (p) => p.firstByteWithin1s) +
          failed(r.gateway.streams.map((p) => p.failures)),
        target: `all ${num(n)}`,
        met: verdict(within?.median, (value) => value >= n),
      },
    );
    row(`… time until every stream had its first byte (ms)`, {
      direct: streams(r.direct.streams, (p) => p.allFirstByteMs),
      bare: streams(r.bare.streams, (p) => p.allFirstByteMs),
      gateway: streams(r.gateway.streams, (p) => p.allFirstByteMs),
      target: '≤ 1,000',
    });
    row(`… completed with [DONE]`, {
      direct: streams(r.direct.streams, (p) => p.completed),
      bare: streams(r.bare.streams, (p) => p.completed),
      gateway: streams(r.gateway.streams, (p) => p.completed),
    });
    row(`… peak RSS with the streams open (MiB)`, {
      bare: streams(r.bare.streams, (p) => p.peakRssMiB, 1),
      gateway: cell(peak, 1),
      target: '≤ 400',
      met: verdict(peak?.median, (value) => value <= 400),
    });
  }

  // Memory and start
  const rssIdle = summarize(r.gateway.rssIdleMiB);
  const rssIdlePglite = summarize(r.pglite.rssIdleMiB);
  row(`RSS idle, ${num(c.settleMs / 1000, 1)} s after ready (MiB)`, {
    bare: cell(summarize(r.bare.rssIdleMiB), 1),
    gateway: cell(rssIdle, 1),
    target: '≤ 150',
    met: verdict(rssIdle?.median, (value) => value <= 150),
  });
  row('… gateway on PGlite (MiB)', {
    gateway: cell(rssIdlePglite, 1),
    target: '≤ 150',
    met: verdict(rssIdlePglite?.median, (value) => value <= 150),
  });
  row(`RSS after the load, idle ${num(c.afterLoadMs / 1000, 1)} s (MiB)`, {
    bare: r.bare.rssAfterLoadMiB === undefined ? 'n/a' : num(r.bare.rssAfterLoadMiB, 1),
    gateway: r.gateway.rssAfterLoadMiB === undefined ? 'n/a' : num(r.gateway.rssAfterLoadMiB, 1),
  });
  const ready = summarize(r.gateway.readyMs);
  const readyPglite = summarize(r.pglite.readyMs);
  row('Time to ready, spawn → /health/ready 200 (ms)', {
    bare: cell(summarize(r.bare.readyMs)),
    gateway: `${cell(ready)} (Postgres)`,
    target: '≤ 2,000',
    met: verdict(ready?.median, (value) => value <= 2000),
  });
  row('… gateway on PGlite, data directory already created (ms)', {
    gateway: cell(readyPglite),
    target: '≤ 2,000',
    met: verdict(readyPglite?.median, (value) => value <= 2000),
  });
  row('… first start: migrations on an empty database (ms)', {
    gateway: `${r.gateway.firstStart ? num(r.gateway.firstStart.readyMs) : 'n/a'} (Postgres), ${r.pglite.firstStart ? num(r.pglite.firstStart.readyMs) : 'n/a'} (PGlite)`,
  });

  const m = r.machine;
  const out: string[] = [];
  out.push(`# Conflux Router bench${c.quick ? ' (BENCH_QUICK=1: smoke run, not figures)' : ''}`);
  out.push('');
  out.push(
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, Linux ${m.kernel}; ${m.date}; ` +
      `load average at the start ${m.loadAverage.join(' ')}. Run took ${num(r.elapsedS)} s.`,
  );
  out.push('');
  out.push(
    `Core 0: the process under test (the bare proxy, then the gateway: one at a time). Core 1: the rig, the fake ` +
      `upstream and the load generator. Postgres and Redis are not pinned. The gateway runs its full live ` +
      `pipeline (Postgres + Redis, ${c.keys} live keys of one Pro account, LOG_LEVEL=info to a file). ` +
      `${c.passes} pass(es) per scenario: median (min–max); "met?" compares the median with the target. ` +
      `Saturation: autocannon, ${c.saturationS} s per pass. Fixed rates: an open loop, ${c.rateS} s per pass, ` +
      `each pass paired with one calling the upstream directly at the same rate ("added" = through − direct). ` +
      `Failures (non-2xx, errors, timeouts) are summed over all passes.`,
  );
  out.push('');
  out.push('| scenario | upstream directly | bare proxy | gateway | ratio / target | met? |');
  out.push('| --- | --- | --- | --- | --- | --- |');
  for (const x of rows) {
    out.push(`| ${x.scenario} | ${x.direct} | ${x.bare} | ${x.gateway} | ${x.target} | ${x.met} |`);
  }
  for (const [name, target] of [
    ['bare proxy', r.bare],
    ['gateway', r.gateway],
  ] as const) {
    if (target.restarts.length > 0) {
      out.push('');
      out.push(
        `The ${name} was restarted between scenarios (its figures after that come from a fresh process):`,
      );
      out.push('');
      for (const restart of target.restarts) {
        out.push(`- ${restart}`);
      }
    }
    if (target.skipped.length > 0) {
      out.push('');
      out.push(`Skipped for the ${name}:`);
      out.push('');
      for (const skipped of target.skipped) {
        out.push(`- ${skipped}`);
      }
    }
  }
  if (r.gateway.pgActivity && r.gateway.pgActivity.length > 0) {
    out.push('');
    out.push(
      "The gateway's Postgres sessions during non-streaming saturation (pg_stat_activity every 100 ms; " +
        'average sessions per state, wait event in brackets):',
    );
    out.push('');
    for (const { state, sessions } of r.gateway.pgActivity.slice(0, 8)) {
      out.push(`- ${num(sessions, 2)} ${state}`);
    }
  }
  if (r.gateway.metrics.length > 0) {
    out.push('');
    out.push("Gateway's failover and circuit counters (its /metrics, read before each stop):");
    out.push('');
    out.push('```');
    out.push(...r.gateway.metrics);
    out.push('```');
  }
  if (r.problems.length > 0) {
    out.push('');
    out.push('Problems:');
    out.push('');
    for (const problem of r.problems) {
      out.push(`- ${problem.split('\n').join('\n  ')}`);
    }
  }
  return `${out.join('\n')}\n`;
}

function coreCell(passes: SaturationPass[]): string {
  if (passes.length === 0) {
    return 'n/a';
  }
  return `${cell(of(passes, (p) => p.coreBusy[0]))} / ${cell(of(passes, (p) => p.coreBusy[1]))}`;
}
