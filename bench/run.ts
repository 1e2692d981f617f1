import { performance } from 'node:perf_hooks';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { startFakes } from '../test/fakes/index.js';

/**
 * `npm run bench`: the gateway's own cost per request, measured on this machine against the local fake providers
 * (embedded PGlite unless DATABASE_URL is set; Redis when REDIS_URL is set). Prints throughput and latency
 * percentiles for each scenario, and the same request sent straight to the fake for comparison.
 */
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 400);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

interface Result {
  name: string;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
}

async function measure(name: string, send: () => Promise<Response>): Promise<Result> {
  for (let i = 0; i < 20; i++) {
    await (await send()).arrayBuffer(); // warm-up: pools, JIT, caches
  }
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < REQUESTS) {
        const t0 = performance.now();
        const res = await send();
        await res.arrayBuffer();
        latencies.push(performance.now() - t0);
        if (res.status !== 200) {
          errors += 1;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  return { name, rps: latencies.length / seconds, p50: pct(50), p95: pct(95), p99: pct(99), errors };
}

async function main(): Promise<void> {
  const fakes = await startFakes();
  const config = loadConfig({
    ...process.env,
    ...fakes.env,
    PORT: '0',
    LOG_LEVEL: 'silent',
    PGLITE_DATA_DIR: 'memory://',
    RATE_LIMIT_RPM: '1000000',
    JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0',
  });
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  const json = (path: string, body: unknown, token?: string) =>
    fetch(url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  const session = (await (
    await json('/auth/signup', { email: `bench-${Date.now()}@example.com`, password: 'bench-password' })
  ).json()) as { token: string };
  const key = async (kind: string) =>
    ((await (await json('/v1/keys', { name: kind, kind }, session.token)).json()) as { key: string }).key;
  const live = await key('live');
  const test = await key('test');
  const chat = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 16 };

  const results = [
    await measure('fake provider directly (baseline)', () =>
      fetch(`${fakes.env.OPENAI_BASE_URL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${fakes.env.OPENAI_API_KEY}` },
        body: JSON.stringify({ ...chat, max_tokens: undefined, max_completion_tokens: 16 }),
      }),
    ),
    await measure('test key (auth, rate limit, validation, mock)', () =>
      json('/v1/chat/completions', chat, test),
    ),
    await measure('live key, non-streaming (hold, provider, settle)', () =>
      json('/v1/chat/completions', chat, live),
    ),
    await measure('live key, streaming 16 chunks', () =>
      json('/v1/chat/completions', { ...chat, stream: true, stream_options: { include_usage: true } }, live),
    ),
  ];
  process.stdout.write(
    `\nConflux Router benchmark: ${REQUESTS} requests per scenario, concurrency ${CONCURRENCY}, database ${config.database.kind}` +
      `${config.redisUrl ? ' + Redis' : ''}\n\n`,
  );
  process.stdout.write(
    'scenario                                           req/s    p50 ms   p95 ms   p99 ms  errors\n',
  );
  for (const r of results) {
    process.stdout.write(
      `${r.name.padEnd(50)} ${r.rps.toFixed(0).padStart(6)} ${r.p50.toFixed(1).padStart(9)} ${r.p95.toFixed(1).padStart(8)} ${r.p99
        .toFixed(1)
        .padStart(8)} ${String(r.errors).padStart(7)}\n`,
    );
  }
  await app.close();
  await fakes.close();
}

await main();
