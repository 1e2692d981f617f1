import { performance } from 'node:perf_hooks';

/**
 * The client of the usage bench, in a process of its own (as a customer's client would be, its response parsing and
 * garbage are not the gateway's): argv[2] is `{ base, token, warmup, samples, paths }`; for each path in turn it
 * makes `warmup` requests, then `samples` timed ones, one at a time, and prints `{ "times": [ms, …] }` on a line.
 */
interface Plan {
  base: string;
  token: string;
  warmup: number;
  samples: number;
  paths: string[];
}

const plan = JSON.parse(process.argv[2]) as Plan;
for (const path of plan.paths) {
  const times: number[] = [];
  for (let i = 0; i < plan.warmup + plan.samples; i++) {
    const t0 = performance.now();
    const res = await fetch(plan.base + path, { headers: { authorization: `Bearer ${plan.token}` } });
    const body = await res.arrayBuffer();
    if (res.status !== 200) {
      process.stderr.write(`${path}: ${res.status} ${Buffer.from(body).toString('utf8').slice(0, 200)}\n`);
      process.exit(1);
    }
    if (i >= plan.warmup) {
      times.push(performance.now() - t0);
    }
  }
  process.stdout.write(`${JSON.stringify({ times })}\n`);
}
