import { afterEach, describe, expect, it } from 'vitest';
import {
  call,
  chat,
  countStatuses,
  createKey,
  login,
  metric,
  openStream,
  runLoops,
  setPlan,
  signup,
  SMALL,
  stopLoops,
  trySignup,
  waitFor,
  type Answer,
} from './client.js';
import { brief, counts, crashLines, logMarks, logSince, logSummary } from './evidence.js';
import { ms, note, useCluster, type Cluster } from './harness.js';

/**
 * Redis down is a degraded mode, not an outage: chat (test and live keys, JSON and streams), log-in and sign-up
 * never answer 5xx; readiness stays 200 and says `degraded`, /metrics says `conflux_redis_degraded 1`; a key
 * revoked meanwhile stops working on every instance within a second; the rate limit becomes a per-instance
 * share; within 5 s of Redis's return everything is shared again.
 */

const RPM = 60;
const INSTANCES = 3;
/** src/redis/redis.service.ts counts the live instances every 2 s (COUNT_INSTANCES_MS) and keeps the most it saw. */
const COUNT_INSTANCES_MS = 2_000;

interface Who {
  token: string;
  email: string;
  accountId: string;
  live: string;
  test: string;
}

async function account(c: Cluster, plan: 'free' | 'pro'): Promise<Who> {
  const { token, accountId, email } = await signup(c.url(0));
  if (plan !== 'free') {
    await setPlan(c.db, accountId, plan); // before its keys are first used: they cache the plan
  }
  const live = (await createKey(c.url(0), token, 'live')).key;
  const test = (await createKey(c.url(0), token, 'test')).key;
  return { token, email, accountId, live, test };
}

interface Seen {
  instance: number;
  what: string;
  answer: Answer;
  phase: 'up' | 'down' | 'back';
}

/** Test and live keys, JSON and stream; log-in and sign-up: one of each on instance i. */
async function round(c: Cluster, i: number, who: Who, phase: () => Seen['phase']): Promise<Seen[]> {
  const url = c.url(i);
  const out: Seen[] = [];
  const add = (what: string, answer: Answer) => out.push({ instance: i, what, answer, phase: phase() });
  const stream = async (key: string): Promise<Answer> => {
    const s = await openStream(url, key, SMALL, { timeoutMs: 15_000 });
    const end = await s.ended;
    // a 200 stream that did not end with [DONE] counts as broken (status -1)
    const status = s.status === 200 && !end.done ? -1 : s.status;
    return {
      status,
      headers: s.headers,
      body: s.errorBody ?? end.errorFrame,
      ms: end.ms,
      error: s.error ?? end.broken,
    };
  };
  add('test json', await chat(url, who.test, SMALL, { timeoutMs: 15_000 }));
  add('test stream', await stream(who.test));
  add('live json', await chat(url, who.live, SMALL, { timeoutMs: 15_000 }));
  add('live stream', await stream(who.live));
  add('login', await login(url, who.email));
  add('signup', await trySignup(url));
  return out;
}

function traffic(c: Cluster, who: Who, phase: () => Seen['phase']) {
  const seen: Seen[] = [];
  const stop = runLoops(c.size, async (i) => {
    seen.push(...(await round(c, i, who, phase)));
    await new Promise((resolve) => setTimeout(resolve, 50));
  });
  return {
    rounds: (p: Seen['phase']) =>
      Math.min(
        ...Array.from(
          { length: c.size },
          (_, i) => seen.filter((s) => s.instance === i && s.phase === p && s.what === 'signup').length,
        ),
      ),
    stop: async () => {
      await stop();
      return seen;
    },
  };
}

/** Readiness and the degraded metric of instance i. */
async function redisState(
  c: Cluster,
  i: number,
): Promise<{ ready: Answer; mode?: string; instances?: number; gauge?: number }> {
  const [ready, metrics] = await Promise.all([
    call(c.url(i), 'GET', '/health/ready', { timeoutMs: 5_000 }),
    call(c.url(i), 'GET', '/metrics', { timeoutMs: 5_000 }),
  ]);
  const redis = ready.body?.details?.redis as { mode?: string; instances?: number } | undefined;
  return {
    ready,
    mode: redis?.mode,
    instances: redis?.instances,
    gauge: typeof metrics.body === 'string' ? metric(metrics.body, 'conflux_redis_degraded') : undefined,
  };
}

/** Waits (bounded) until every instance reports `mode` in readiness and the matching gauge; ms it took each. */
async function allInMode(c: Cluster, mode: 'degraded' | 'shared', boundMs: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: c.size }, (_, i) =>
      waitFor(
        async () => {
          const s = await redisState(c, i);
          return s.ready.status === 200 && s.mode === mode && s.gauge === (mode === 'degraded' ? 1 : 0);
        },
        boundMs,
        `instance ${i}: readiness 200 with redis mode ${mode} and conflux_redis_degraded ${mode === 'degraded' ? 1 : 0}`,
        50,
      ),
    ),
  );
}

/**
 * With Redis down: 30 concurrent requests of one fresh key on each instance; each admits its share of the
 * limit. Returns the statuses per instance.
 */
async function burstPerInstance(c: Cluster, key: string): Promise<Array<Record<number, number>>> {
  const answers = await Promise.all(
    Array.from({ length: 30 * c.size }, (_, n) => chat(c.url(n % c.size), key, SMALL, { timeoutMs: 30_000 })),
  );
  return Array.from({ length: c.size }, (_, i) => countStatuses(answers.filter((_, n) => n % c.size === i)));
}

/**
 * Precondition, not a condition of the outcome: the instances have run long enough, all at once, to have counted
 * each other (heartbeats every second, a count every COUNT_INSTANCES_MS).
 */
async function countedEachOther(c: Cluster): Promise<void> {
  const youngest = Math.min(...Array.from({ length: c.size }, (_, i) => c.uptime(i)), c.redis.uptime());
  if (youngest < COUNT_INSTANCES_MS + 1_000) {
    note(`waiting ${ms(COUNT_INSTANCES_MS + 1_000 - youngest)} for the instances to have counted each other`);
    await new Promise((resolve) => setTimeout(resolve, COUNT_INSTANCES_MS + 1_000 - youngest));
  }
}

/** What each instance admits of one key with Redis down: its share of the limit. */
const SHARE = { 200: RPM / INSTANCES, 429: 30 - RPM / INSTANCES };

/**
 * Kills Redis, and once every instance is degraded: the number of instances each one divides the limit by, and
 * what each admits of 30 concurrent requests of `key` (a fresh key). Redis is started again before returning.
 */
async function shareWhileDown(c: Cluster, key: string) {
  await c.redis.kill();
  try {
    await allInMode(c, 'degraded', 5_000);
    const known = await Promise.all(
      Array.from({ length: c.size }, async (_, i) => (await redisState(c, i)).instances),
    );
    const perInstance = await burstPerInstance(c, key);
    return { known, perInstance };
  } finally {
    await c.redis.start();
    await allInMode(c, 'shared', 10_000);
  }
}

describe('Redis down: a degraded mode, never an outage', () => {
  const cluster = useCluster({
    instances: INSTANCES,
    rateLimitRpm: RPM,
    // The account that drives traffic through the outage is on Pro, whose limit is out of the way.
    env: { RATE_LIMIT_RPM_PRO: '100000' },
  });
  // Whatever a scenario that failed left behind: its traffic stopped, Redis running again.
  afterEach(async () => {
    await stopLoops();
    const c = cluster();
    if (c.redis.pid === undefined) {
      await c.redis.start();
    }
  });

  // An instance counts the live instances before it serves (its own heartbeat may not be written yet).
  it(`an instance started just before Redis goes down still admits only its share (${RPM / INSTANCES})`, async () => {
    const c = cluster();
    const free = await account(c, 'free');
    await countedEachOther(c); // the others have seen all three at least once
    await c.restart(2); // started a moment ago
    const { known, perInstance } = await shareWhileDown(c, free.test);
    note(
      `share of a new instance: instances known ${JSON.stringify(known)}; per instance ${JSON.stringify(perInstance)}`,
    );
    expect(perInstance).toEqual(Array.from({ length: c.size }, () => SHARE));
  }, 120_000);

  it(`with Redis down each instance admits at most its share (${RPM / INSTANCES}) of a key's ${RPM} a minute`, async () => {
    const c = cluster();
    const free = await account(c, 'free');
    await countedEachOther(c);
    const { known, perInstance } = await shareWhileDown(c, free.test);
    note(`share: instances known ${JSON.stringify(known)}; per instance ${JSON.stringify(perInstance)}`);
    expect(known).toEqual([INSTANCES, INSTANCES, INSTANCES]);
    expect(perInstance).toEqual(Array.from({ length: c.size }, () => SHARE));
  }, 120_000);

  it('Redis killed: chat, log-in and sign-up never 5xx; readiness 200 degraded and the gauge 1; a revoked key refused everywhere within 1 s; shared again within 5 s of its return', async () => {
    const c = cluster();
    const pro = await account(c, 'pro');
    const free = await account(c, 'free');
    const doomed = await createKey(c.url(0), pro.token, 'test');
    const marks = logMarks(c);
    let phase: Seen['phase'] = 'up';
    const load = traffic(c, pro, () => phase);
    await waitFor(() => load.rounds('up') >= 1, 30_000, 'a round on every instance with Redis up');

    const killed = await c.redis.kill();
    phase = 'down';
    const downAt = performance.now();
    const degradedAfter = await allInMode(c, 'degraded', 5_000);
    const states = await Promise.all(Array.from({ length: c.size }, (_, i) => redisState(c, i)));
    note(
      `redis kill: ${killed.signal} in ${ms(killed.ms)}; readiness degraded after ${degradedAfter.map((t) => ms(t)).join(', ')}: ` +
        states
          .map((s) => `${s.ready.status} ${JSON.stringify(s.ready.body?.details?.redis)} gauge ${s.gauge}`)
          .join('; '),
    );

    // The Free account too (its own limit, shared per instance now): a round on every instance.
    const freeSeen = (await Promise.all([0, 1, 2].map((i) => round(c, i, free, () => 'down')))).flat();

    // Revocation while Redis is down: every instance has the key cached, then it is revoked through one of them.
    for (let i = 0; i < c.size; i++) {
      expect((await chat(c.url(i), doomed.key, SMALL)).status, `the key works on instance ${i}`).toBe(200);
    }
    const revoked = await call(c.url(0), 'DELETE', `/v1/keys/${doomed.id}`, {
      auth: pro.token,
      timeoutMs: 10_000,
    });
    const revokedAt = Date.now();
    const polls = await Promise.all(
      Array.from({ length: c.size }, async (_, i) => {
        const out: Array<{ sent: number; status: number }> = [];
        // Until two polls sent a second or more after the revocation have answered (at most 10 s).
        while (out.filter((p) => p.sent >= revokedAt + 1_000).length < 2 && Date.now() < revokedAt + 10_000) {
          const sent = Date.now();
          const answer = await chat(c.url(i), doomed.key, SMALL, { timeoutMs: 5_000 });
          out.push({ sent, status: answer.status });
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        return out;
      }),
    );
    const firstRefused = polls.map((p) => p.find((x) => x.status === 401)?.sent);
    note(
      `redis kill: DELETE /v1/keys/{id} ${brief(revoked)}; refused (401) on each instance from ` +
        firstRefused.map((t) => (t === undefined ? 'never' : `${t - revokedAt} ms`)).join(', ') +
        ` after it; polls per instance ${polls.map((p) => counts(p.map((x) => x.status))).join(' ')}`,
    );

    await waitFor(() => load.rounds('down') >= 3, 60_000, '3 rounds per instance with Redis down');
    const stillDegraded = await Promise.all(Array.from({ length: c.size }, (_, i) => redisState(c, i)));
    const started = performance.now();
    await c.redis.start();
    phase = 'back';
    const sharedAfter = await allInMode(c, 'shared', 15_000);
    note(
      `redis kill: down for ${ms(started - downAt)}; shared again ${sharedAfter.map((t) => ms(t)).join(', ')} after its return`,
    );
    await waitFor(() => load.rounds('back') >= 1, 30_000, 'a round on every instance with Redis back');
    const seen = [...(await load.stop()), ...freeSeen];
    for (const p of ['up', 'down', 'back'] as const) {
      const kinds = [...new Set(seen.map((s) => s.what))];
      note(
        `redis kill, ${p}: ` +
          kinds
            .map(
              (k) =>
                `${k} ${counts(seen.filter((s) => s.phase === p && s.what === k).map((s) => s.answer.status))}`,
            )
            .join('; '),
      );
    }
    logSummary(c, marks, 'redis kill');

    // Never a 5xx, never a dropped connection or a broken stream; all served (their limits are not reached).
    expect(
      seen
        .filter((s) => s.answer.status < 200 || s.answer.status >= 300)
        .map((s) => `${s.what} @${s.instance} (${s.phase}): ${brief(s.answer)}`),
    ).toEqual([]);
    for (let i = 0; i < c.size; i++) {
      expect(c.alive(i)).toBe(true);
      expect(crashLines(logSince(c, i, marks[i])), `instance ${i}`).toEqual([]);
    }
    // Readiness stayed 200 and said degraded, with the gauge at 1, all through the outage.
    for (const s of [...states, ...stillDegraded]) {
      expect(s.ready.status).toBe(200);
      expect(s.mode).toBe('degraded');
      expect(s.gauge).toBe(1);
    }
    // Back to shared within 5 s of Redis's return.
    for (const t of sharedAfter) {
      expect(t).toBeLessThan(5_000);
    }
    // The revocation answered 200, and every request sent a second or more after it was refused, everywhere.
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).not.toBeNull();
    for (let i = 0; i < c.size; i++) {
      const late = polls[i].filter((p) => p.sent >= revokedAt + 1_000);
      expect(late.length, `instance ${i}: polls a second after the revocation`).toBeGreaterThanOrEqual(2);
      expect(
        late.map((p) => p.status),
        `instance ${i}`,
      ).toEqual(late.map(() => 401));
    }
  }, 180_000);

  // Redis comes back empty: the instances are counted again only once their heartbeats are written back; until
  // then the last count stands.
  it(`Redis back for a moment then down again: each instance still admits only its share (${RPM / INSTANCES})`, async () => {
    const c = cluster();
    const free = await account(c, 'free');
    await c.redis.kill();
    await allInMode(c, 'degraded', 5_000);
    await c.redis.start();
    await allInMode(c, 'shared', 10_000);
    const { known, perInstance } = await shareWhileDown(c, free.test);
    note(
      `share after a flap: instances known ${JSON.stringify(known)}; per instance ${JSON.stringify(perInstance)}`,
    );
    expect(perInstance).toEqual(Array.from({ length: c.size }, () => SHARE));
  }, 120_000);
});
