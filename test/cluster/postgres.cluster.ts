import { afterEach, describe, expect, it } from 'vitest';
import {
  billedOnce,
  call,
  chat,
  createKey,
  leases,
  login,
  money,
  openStream,
  runLoops,
  setPlan,
  signup,
  stopLoops,
  trySignup,
  waitFor,
  type Answer,
} from './client.js';
import { brief, counts, crashLines, linesAbout, logMarks, logSince, logSummary } from './evidence.js';
import { ms, note, useCluster, type Cluster } from './harness.js';
import type { Stopped } from './processes.js';

/**
 * Postgres stopped (fast shutdown) or killed (SIGKILL: crash recovery) while the cluster serves, then started
 * again. Required: no 500 and no crash, ever; a paid-plan account keeps being served (its keys are cached, it holds
 * no credit, its settlements wait in the journal); a Free-plan account whose lease cannot grow, and everything that
 * needs the database, gets 503 `service_unavailable` with `retry-after`; once Postgres is back, every request that
 * got a 200 is billed exactly once (one usage event, one ledger entry), balance = Σ ledger, and no lease is left.
 */

const RECOVERY = { LEASE_TTL_MS: '3000', INSTANCE_TIMEOUT_MS: '3000', RECONCILE_INTERVAL_MS: '1000' };

const BODY = {
  model: 'gpt-6-luna',
  messages: [{ role: 'user', content: 'one two three four five' }],
  max_tokens: 20,
};

interface Who {
  token: string;
  email: string;
  accountId: string;
  key: string;
}

interface Seen {
  instance: number;
  what: string;
  answer: Answer;
  /** The stream ended with [DONE] (streams only). */
  done?: boolean;
  requestId: string | null;
  phase: 'before' | 'down' | 'back';
}

async function account(c: Cluster, plan: 'free' | 'pro'): Promise<Who> {
  const { token, accountId, email } = await signup(c.url(0));
  if (plan !== 'free') {
    await setPlan(c.db, accountId, plan); // before the key is first used: keys cache their account's plan
  }
  const { key } = await createKey(c.url(0), token, 'live');
  return { token, email, accountId, key };
}

/** One call of each kind the scenario watches, on instance i. */
async function round(
  c: Cluster,
  i: number,
  paid: Who,
  free: Who,
  phase: () => Seen['phase'],
): Promise<Seen[]> {
  const url = c.url(i);
  const seen: Seen[] = [];
  const record = (what: string, answer: Answer, extra: Partial<Seen> = {}) =>
    seen.push({
      instance: i,
      what,
      answer,
      requestId: answer.headers.get('x-request-id'),
      phase: phase(),
      ...extra,
    });
  const stream = async (who: Who, what: string) => {
    const s = await openStream(url, who.key, BODY, { timeoutMs: 15_000 });
    const end = await s.ended;
    record(
      what,
      { status: s.status, headers: s.headers, body: s.errorBody, ms: end.ms, error: s.error ?? end.broken },
      { done: end.done },
    );
  };
  record('paid json', await chat(url, paid.key, BODY, { timeoutMs: 15_000 }));
  await stream(paid, 'paid stream');
  record('free json', await chat(url, free.key, BODY, { timeoutMs: 15_000 }));
  await stream(free, 'free stream');
  record('keys list', await call(url, 'GET', '/v1/keys', { auth: free.token, timeoutMs: 15_000 }));
  record('login', await login(url, paid.email));
  return seen;
}

/** Rounds on every instance, one after another per instance, until stopped. */
function load(c: Cluster, paid: Who, free: Who, phase: () => Seen['phase']) {
  const seen: Seen[] = [];
  const stop = runLoops(c.size, async (i) => {
    seen.push(...(await round(c, i, paid, free, phase)));
    await new Promise((resolve) => setTimeout(resolve, 50));
  });
  return {
    seen,
    rounds: (phaseName: Seen['phase']) =>
      Math.min(
        ...Array.from(
          { length: c.size },
          (_, i) =>
            seen.filter((s) => s.instance === i && s.phase === phaseName && s.what === 'login').length,
        ),
      ),
    stop: async () => {
      await stop();
      return seen;
    },
  };
}

function exitText(exit: Stopped): string {
  return `exited in ${ms(exit.ms)} (code ${exit.code}, signal ${exit.signal}${exit.forced ? ', forced' : ''})`;
}

describe('Postgres down while the cluster serves', () => {
  const cluster = useCluster({ instances: 3, rateLimitRpm: 100_000, env: RECOVERY });
  // Whatever a scenario that failed left behind: its traffic stopped, Postgres running again.
  afterEach(async () => {
    await stopLoops();
    const c = cluster();
    if (c.postgres.pid === undefined) {
      await c.postgres.start();
    }
  });

  for (const how of ['stop', 'kill'] as const) {
    it(`Postgres ${how === 'stop' ? 'stopped (fast shutdown)' : 'killed (SIGKILL)'}: no 500 and no crash, paid keys served, Free 503 + retry-after; after recovery every 200 billed once, balance = Σ ledger, no lease left`, async () => {
      const c = cluster();
      const paid = await account(c, 'pro');
      const free = await account(c, 'free');
      const marks = logMarks(c);
      let phase: Seen['phase'] = 'before';
      // Every instance has served both accounts (their keys are cached there) before the outage.
      const warm = (await Promise.all([0, 1, 2].map((i) => round(c, i, paid, free, () => 'before')))).flat();
      for (const s of warm) {
        expect(s.answer.status, `${s.what} @${s.instance} before the outage`).toBe(200);
      }

      const traffic = load(c, paid, free, () => phase);
      await waitFor(() => traffic.rounds('before') >= 1, 30_000, 'a round of traffic on every instance');
      const exit = how === 'stop' ? await c.postgres.stop() : await c.postgres.kill();
      phase = 'down';
      const downAt = performance.now();
      note(`postgres ${how}: ${exitText(exit)}`);
      const signups = await Promise.all([0, 1, 2].map((i) => trySignup(c.url(i))));
      const live = await Promise.all([0, 1, 2].map((i) => call(c.url(i), 'GET', '/health/live')));
      // Traffic goes on through the outage: at least 3 rounds per instance, and longer than a lease's TTL.
      await waitFor(
        () => traffic.rounds('down') >= 3 && performance.now() - downAt > Number(RECOVERY.LEASE_TTL_MS) + 500,
        60_000,
        '3 rounds per instance while Postgres is down',
      );
      const alive = [0, 1, 2].map((i) => c.alive(i));
      const restarted = performance.now();
      await c.postgres.start();
      phase = 'back';
      note(
        `postgres ${how}: down for ${ms(restarted - downAt)}; accepting queries again in ${ms(performance.now() - restarted)}`,
      );
      const readyAgain = await Promise.all([0, 1, 2].map((i) => c.ready(i, 60_000)));
      await waitFor(() => traffic.rounds('back') >= 1, 60_000, 'a round of traffic on every instance after');
      const seen = [...warm, ...(await traffic.stop())];

      // What clients saw, by phase and kind.
      for (const p of ['before', 'down', 'back'] as const) {
        const kinds = [...new Set(seen.map((s) => s.what))];
        note(
          `postgres ${how}, ${p}: ` +
            kinds
              .map(
                (k) =>
                  `${k} ${counts(seen.filter((s) => s.phase === p && s.what === k).map((s) => s.answer.status))}`,
              )
              .join('; '),
        );
      }
      note(
        `postgres ${how}: sign-ups while down ${signups.map(brief).join(', ')}; ready again after ${readyAgain.map((t) => ms(t)).join(', ')}`,
      );
      logSummary(c, marks, `postgres ${how}`);

      // Never a 500 (nor any 5xx but 503), never a dropped connection, no crash.
      expect(alive).toEqual([true, true, true]);
      expect(live.map((a) => a.status)).toEqual([200, 200, 200]);
      const bad = seen.filter(
        (s) => s.answer.status === 0 || (s.answer.status >= 500 && s.answer.status !== 503),
      );
      for (const s of bad) {
        note(`postgres ${how}: ${s.what} @${s.instance} (${s.phase}) ${brief(s.answer)}; its log lines:`);
        linesAbout(c, marks, s.requestId).forEach((line) => note(`    ${line}`));
      }
      expect(bad.map((s) => `${s.what} @${s.instance} (${s.phase}): ${brief(s.answer)}`)).toEqual([]);
      for (const s of [
        ...seen.filter((x) => x.answer.status === 503),
        ...signups.filter((a) => a.status === 503).map((answer) => ({ answer, what: 'signup' })),
      ]) {
        expect(s.answer.body?.error?.code, s.what).toBe('service_unavailable');
        expect(s.answer.headers.get('retry-after'), `${s.what}: retry-after`).not.toBeNull();
      }
      for (let i = 0; i < c.size; i++) {
        expect(crashLines(logSince(c, i, marks[i])), `instance ${i}`).toEqual([]);
      }
      // The paid account is served throughout (cached keys, no hold, settlements wait in the journal).
      const paidSeen = seen.filter((s) => s.what.startsWith('paid'));
      expect(
        paidSeen
          .filter((s) => s.answer.status !== 200 || s.done === false)
          .map((s) => `${s.what} @${s.instance} (${s.phase}): ${brief(s.answer)}`),
      ).toEqual([]);
      // The Free account is served or refused with 503 while its lease cannot grow; signing up needs the database.
      const down = seen.filter((s) => s.phase === 'down');
      expect(
        down.filter((s) => s.what.startsWith('free')).every((s) => [200, 503].includes(s.answer.status)),
      ).toBe(true);
      expect(down.some((s) => s.what.startsWith('free') && s.answer.status === 503)).toBe(true);
      expect(signups.map((a) => a.status)).toEqual([503, 503, 503]);
      // Everything works again once Postgres is back.
      const back = seen.filter((s) => s.phase === 'back');
      expect(
        back
          .filter((s) => s.answer.status !== 200)
          .map((s) => `${s.what} @${s.instance}: ${brief(s.answer)}`),
      ).toEqual([]);

      // After recovery: every chat that got a 200 has exactly one usage event and one ledger entry.
      const served = seen.filter(
        (s) => s.what.includes(' ') && /json|stream/.test(s.what) && s.answer.status === 200,
      );
      const ids = served.map((s) => s.requestId!);
      expect(new Set(ids).size).toBe(ids.length);
      const billedAfter = await waitFor(
        async () => (await billedOnce(c.db, ids)).every((r) => r.events === 1 && r.entries === 1),
        45_000,
        `the ${ids.length} requests served billed once`,
        200,
      ).catch(async (error: Error) => {
        const missing = (await billedOnce(c.db, ids)).filter((r) => r.events !== 1 || r.entries !== 1);
        throw new Error(
          `${error.message}: ${JSON.stringify(missing.slice(0, 10))} (${missing.length} of ${ids.length})`,
        );
      });
      const rows = await billedOnce(c.db, ids);
      expect(rows.every((r) => r.events === 1 && r.entries === 1 && BigInt(r.cost!) > 0n)).toBe(true);
      // And nothing refused was billed.
      const refusedIds = seen
        .filter((s) => /json|stream/.test(s.what) && s.answer.status === 503 && s.requestId)
        .map((s) => s.requestId!);
      const refusedRows = await billedOnce(c.db, refusedIds);
      expect(refusedRows.filter((r) => r.entries > 0)).toEqual([]);

      // Balance = Σ ledger; the Free account's leases are all given back (they expire after LEASE_TTL_MS).
      const settledAfter = await waitFor(
        async () => {
          const m = await money(c.db, free.accountId);
          return (
            m.held === 0n &&
            m.leases === 0 &&
            (await leases(c.db, free.accountId)).every((l) => l.amount === '0')
          );
        },
        30_000,
        'the Free account’s leases given back',
        200,
      );
      const p = await money(c.db, paid.accountId);
      const f = await money(c.db, free.accountId);
      note(
        `postgres ${how}: ${ids.length} requests served (${served.filter((s) => s.phase === 'down').length} while down) billed once ` +
          `${ms(billedAfter)} after recovery; ${refusedIds.length} refused, none billed; leases given back after ${ms(settledAfter)}; ` +
          `paid balance ${p.balance} = Σ ledger ${p.ledger}; free balance ${f.balance} = Σ ledger ${f.ledger}, held ${f.held}`,
      );
      for (const m of [p, f]) {
        expect(m.ledger).toBe(m.balance);
        expect(m.held).toBe(0n);
      }
      // What each account was charged in the ledger is exactly what its usage events cost.
      for (const [label, who] of [
        ['paid', paid],
        ['free', free],
      ] as const) {
        const { rows: sums } = await c.db.query(
          `SELECT (SELECT coalesce(sum(cost_micro), 0) FROM usage_events WHERE account_id = $1)::text AS cost,
                  (SELECT coalesce(-sum(amount_micro), 0) FROM credit_ledger WHERE account_id = $1 AND kind = 'usage')::text AS charged`,
          [who.accountId],
        );
        expect(sums[0].charged, `${label}: Σ usage entries = Σ usage costs`).toBe(sums[0].cost);
      }
    }, 180_000);
  }

  // A lease grant whose connection dies mid-transaction fails with TypeORM's own error (the query runner was
  // released): it is the database being away, a 503 with retry-after, like every other refusal of this outage.
  it('Free requests growing their leases while Postgres stops or dies: 503 + retry-after, never 500, never no answer', async () => {
    const c = cluster();
    const keys: string[] = [];
    for (let k = 0; k < 6; k++) {
      const { token } = await signup(c.url(k % 3));
      keys.push((await createKey(c.url(k % 3), token, 'live')).key);
    }
    for (let round = 0; round < 10; round++) {
      const marks = logMarks(c);
      const seen: Array<{ answer: Answer; id: string | null }> = [];
      const stop = runLoops(18, async (w) => {
        const answer = await chat(c.url(w % 3), keys[w % keys.length]!, undefined, { timeoutMs: 15_000 });
        seen.push({ answer, id: answer.headers.get('x-request-id') });
      });
      await waitFor(() => seen.length >= 50, 30_000, 'traffic under way');
      const how = round % 2 === 0 ? 'kill' : 'stop';
      await (how === 'kill' ? c.postgres.kill() : c.postgres.stop());
      const down = seen.length;
      await waitFor(() => seen.length >= down + 50, 30_000, 'traffic while Postgres is down');
      await c.postgres.start();
      await Promise.all([0, 1, 2].map((i) => c.ready(i, 60_000)));
      await stop();
      // A connection the database resets while the request waits is a 503 too, never an answer that never comes.
      const bad = seen.filter(
        (s) => s.answer.status === 0 || (s.answer.status >= 500 && s.answer.status !== 503),
      );
      note(`lease grants through a Postgres ${how}: ${counts(seen.map((s) => s.answer.status))}`);
      for (const s of bad) {
        linesAbout(c, marks, s.id)
          .filter((line) => line.includes('"level":50'))
          .forEach((line) => note(`  ${line.slice(0, 600)}`));
      }
      expect(
        bad.map((s) => brief(s.answer)),
        `round ${round} (${how})`,
      ).toEqual([]);
      for (const s of seen.filter((x) => x.answer.status === 503)) {
        expect(s.answer.headers.get('retry-after')).not.toBeNull();
      }
    }
  }, 300_000);
});
