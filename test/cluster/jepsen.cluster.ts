import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { FakeFault, FakeProvider } from '../fakes/base.js';
import { chat, createKey, openStream, setBalance, setPlan, signup, waitFor } from './client.js';
import { crashLines, logMarks, logSince, logSummary } from './evidence.js';
import { ms, note, useCluster, type Cluster } from './harness.js';

/**
 * A Jepsen-style run: for CLUSTER_JEPSEN_MS (60 s by default), workers send mixed requests of 10 accounts (Free and
 * paid) to the 3 instances: JSON and streams, some cut or failed by the provider, some answered with 5xx or 429 (the
 * fault loop scripts the fakes at random), some aborted by the client; meanwhile a second loop applies top-ups and
 * admin adjustments (one SQL transaction each, the account row locked first, as the admin API will), and a checker
 * takes a snapshot every second (one REPEATABLE READ transaction) and checks, for every account:
 *   balance = Σ ledger; held = Σ leases; held ≥ 0; paid plans hold nothing; a Free account never below zero, and
 *   never holding more than its balance; every live usage event that cost something has its ledger entry (and
 *   every usage entry its event).
 * At the end (the leases given back): held = 0 everywhere, and every request answered 200 has its usage event.
 */

const JEPSEN_MS = Number(process.env.CLUSTER_JEPSEN_MS ?? 60_000);
const WORKERS = 12;
/** Each worker sends at most one request per this many ms (≤ 240 requests/s in all: the run lasts its time). */
const PACE_MS = 50;
/** At most this many requests in all (the run is bounded in requests as well as in time). */
const MAX_REQUESTS = Math.ceil((JEPSEN_MS / PACE_MS) * WORKERS);
const MODELS = ['gpt-6-luna', 'claude-haiku-5-5', 'gemini-3.5-flash-lite'];

interface Account {
  id: string;
  plan: 'free' | 'power' | 'pro';
  key: string;
}

const random = (n: number) => Math.floor(Math.random() * n);
const pick = <T>(values: readonly T[]): T => values[random(values.length)]!;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Everything a snapshot found wrong (empty: all invariants hold). */
async function snapshot(db: pg.Pool, accounts: Account[]): Promise<string[]> {
  const ids = accounts.map((a) => a.id);
  const client = await db.connect();
  const wrong: string[] = [];
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const { rows } = await client.query(
      `SELECT a.id, a.plan, a.balance_micro::text AS balance, a.held_micro::text AS held,
              (SELECT coalesce(sum(l.amount_micro), 0) FROM credit_ledger l WHERE l.account_id = a.id)::text AS ledger,
              (SELECT coalesce(sum(l.amount_micro), 0) FROM credit_leases l WHERE l.account_id = a.id)::text AS leased
         FROM accounts a WHERE a.id = ANY ($1::uuid[])`,
      [ids],
    );
    for (const row of rows as Array<{
      id: string;
      plan: string;
      balance: string;
      held: string;
      ledger: string;
      leased: string;
    }>) {
      const [balance, held, ledger, leased] = [row.balance, row.held, row.ledger, row.leased].map(BigInt);
      const name = `account ${row.id} (${row.plan})`;
      if (balance !== ledger) {
        wrong.push(`${name}: balance ${balance} ≠ Σ ledger ${ledger}`);
      }
      if (held !== leased) {
        wrong.push(`${name}: held ${held} ≠ Σ leases ${leased}`);
      }
      if (held < 0n) {
        wrong.push(`${name}: held ${held} < 0`);
      }
      if (row.plan !== 'free' && held !== 0n) {
        wrong.push(`${name}: a paid plan holds ${held}`);
      }
      if (row.plan === 'free' && balance < 0n) {
        wrong.push(`${name}: a Free account at ${balance} < 0`);
      }
      if (row.plan === 'free' && held > balance) {
        wrong.push(`${name}: holds ${held} of a balance of ${balance}`);
      }
    }
    const unbilled = await client.query(
      `SELECT e.request_id, e.cost_micro::text AS cost FROM usage_events e
        WHERE e.account_id = ANY ($1::uuid[]) AND NOT e.test AND e.cost_micro > 0
          AND NOT EXISTS (SELECT 1 FROM credit_ledger l
                           WHERE l.reference = 'usage:' || e.request_id AND l.amount_micro = -e.cost_micro)`,
      [ids],
    );
    for (const r of unbilled.rows as Array<{ request_id: string; cost: string }>) {
      wrong.push(`usage event ${r.request_id} (cost ${r.cost}) without its ledger entry`);
    }
    const orphans = await client.query(
      `SELECT l.reference FROM credit_ledger l
        WHERE l.account_id = ANY ($1::uuid[]) AND (l.reference LIKE 'usage:%' OR l.reference LIKE 'writeoff:%')
          AND NOT EXISTS (SELECT 1 FROM usage_events e WHERE e.request_id = substr(l.reference, strpos(l.reference, ':') + 1))`,
      [ids],
    );
    for (const r of orphans.rows as Array<{ reference: string }>) {
      wrong.push(`ledger entry ${r.reference} without its usage event`);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  return wrong;
}

/**
 * A top-up or an admin adjustment in one transaction, the account row locked first. A negative adjustment of a
 * Free account takes at most what its leases do not hold (an admin cannot take credit requests are using).
 */
async function adjust(db: pg.Pool, account: Account, wanted: bigint, reference: string): Promise<bigint> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query(
      `SELECT balance_micro::text AS balance, held_micro::text AS held FROM accounts WHERE id = $1 FOR UPDATE`,
      [account.id],
    );
    const row = rows[0] as { balance: string; held: string };
    let amount = wanted;
    if (account.plan === 'free' && amount < 0n) {
      const room = BigInt(row.balance) - BigInt(row.held);
      amount = room <= 0n ? 0n : -amount > room ? -room : amount;
    }
    if (amount !== 0n) {
      await client.query(`UPDATE accounts SET balance_micro = balance_micro + $2 WHERE id = $1`, [
        account.id,
        amount.toString(),
      ]);
      await client.query(
        `INSERT INTO credit_ledger (account_id, kind, amount_micro, reference, note) VALUES ($1, 'adjustment', $2, $3, 'jepsen')`,
        [account.id, amount.toString(), reference],
      );
    }
    await client.query('COMMIT');
    return amount;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** A random fault for the next request(s) of a random provider: cut, mid-stream error, 5xx, 429, slow. */
function scriptFault(fakes: FakeProvider[]): string {
  const fake = pick(fakes);
  const fault: FakeFault = pick<FakeFault>([
    { kind: 'cut', afterChunks: 1 + random(4) },
    { kind: 'stream_error', afterChunks: 1 + random(4) },
    { kind: 'status', status: 500 },
    { kind: 'status', status: 503 },
    { kind: 'rate_limit', retryAfterSeconds: 1 },
    { kind: 'slow', ms: 100 + random(300) },
  ]);
  fake.addFault(fault, { times: 1 + random(3) });
  return `${fake.name} ${fault.kind}${'status' in fault ? ` ${fault.status}` : ''}`;
}

interface Outcome {
  kind: string;
  status: number | string;
  requestId: string | null;
}

/** One request of a random kind on a random instance. */
async function oneRequest(c: Cluster, account: Account): Promise<Outcome> {
  const url = c.url(random(c.size));
  const body = {
    model: pick(MODELS),
    messages: [{ role: 'user', content: `jepsen ${random(1_000_000)} one two three` }],
    max_tokens: 5 + random(36),
  };
  const roll = Math.random();
  if (roll < 0.4) {
    const a = await chat(url, account.key, body, { timeoutMs: 30_000 });
    return {
      kind: 'json',
      status: a.status === 0 ? `none: ${a.error}` : a.status,
      requestId: a.headers.get('x-request-id'),
    };
  }
  if (roll < 0.45) {
    // The client gives up after a few ms: before or after the provider answered.
    const a = await chat(url, account.key, body, { timeoutMs: 5 + random(60) });
    return {
      kind: 'json, client left',
      status: a.status === 0 ? 'left' : a.status,
      requestId: a.headers.get('x-request-id'),
    };
  }
  const s = await openStream(url, account.key, body, { timeoutMs: 30_000 });
  if (s.status !== 200) {
    return { kind: 'stream', status: s.status === 0 ? `none: ${s.error}` : s.status, requestId: s.requestId };
  }
  if (roll < 0.8) {
    const end = await s.ended;
    const how = end.done
      ? 200
      : end.errorFrame
        ? `200 + error frame ${end.errorFrame.code}`
        : `200 broken: ${end.broken}`;
    return { kind: 'stream', status: how, requestId: s.requestId };
  }
  // The client leaves mid-stream (or once it has ended, when it was quicker).
  await s.until(1 + random(3), 10_000).catch(() => undefined);
  s.abort();
  await s.ended;
  return { kind: 'stream, client left', status: 200, requestId: s.requestId };
}

describe('Jepsen-style: mixed traffic, faults, top-ups and adjustments across instances; a snapshot every second', () => {
  const cluster = useCluster({ instances: 3, rateLimitRpm: 100_000 });

  it(
    `${JEPSEN_MS / 1000} s: every snapshot balanced (balance = Σ ledger, held = Σ leases, no usage without its entry, Free never below zero); held 0 at the end`,
    async () => {
      const c = cluster();
      const plans: Array<Account['plan']> = [
        'free',
        'free',
        'free',
        'free',
        'free',
        'free',
        'power',
        'power',
        'pro',
        'pro',
      ];
      // Free balances from nearly nothing to the default 500 credits: some run out and are topped up again.
      const freeStart = [200_000n, 300_000n, 500_000n, 2_000_000n, 20_000_000n, 500_000_000n];
      const accounts: Account[] = [];
      for (const [n, plan] of plans.entries()) {
        const { token, accountId } = await signup(c.url(n % 3));
        if (plan !== 'free') {
          await setPlan(c.db, accountId, plan);
        } else {
          await setBalance(c.db, accountId, freeStart[n]!);
        }
        const { key } = await createKey(c.url(n % 3), token, 'live');
        accounts.push({ id: accountId, plan, key });
      }
      const marks = logMarks(c);
      const fakes = c.fakes.all;
      const outcomes: Outcome[] = [];
      const violations: Array<{ at: number; what: string }> = [];
      const faults: string[] = [];
      let adjustments = 0;
      let adjusted = 0n;
      let snapshots = 0;
      let sent = 0;
      const started = performance.now();
      const deadline = started + JEPSEN_MS;
      const running = () => performance.now() < deadline && sent < MAX_REQUESTS;

      const workers = Array.from({ length: WORKERS }, async () => {
        while (running()) {
          const began = performance.now();
          sent += 1;
          outcomes.push(await oneRequest(c, pick(accounts)));
          await sleep(Math.max(0, PACE_MS - (performance.now() - began)));
        }
      });
      const faulting = (async () => {
        while (running()) {
          faults.push(scriptFault(fakes));
          await sleep(150 + random(200));
        }
      })();
      const adjusting = (async () => {
        while (running()) {
          const account = pick(accounts);
          const wanted =
            Math.random() < 0.7 ? BigInt(10_000 + random(300_000)) : -BigInt(10_000 + random(200_000));
          const done = await adjust(
            c.db,
            account,
            wanted,
            `jepsen:${account.id}:${adjustments}:${Date.now()}`,
          );
          adjustments += done === 0n ? 0 : 1;
          adjusted += done;
          await sleep(100 + random(200));
        }
      })();
      const checking = (async () => {
        while (running()) {
          const began = performance.now();
          for (const what of await snapshot(c.db, accounts)) {
            violations.push({ at: Math.round(began - started), what });
          }
          snapshots += 1;
          await sleep(Math.max(0, 1_000 - (performance.now() - began)));
        }
      })();
      await Promise.all([...workers, faulting, adjusting, checking]);
      const ranMs = performance.now() - started;
      fakes.forEach((f) => f.clearFaults());

      // The end: every lease given back (idle leases go back within a few seconds), and a last snapshot.
      const idleAfter = await waitFor(
        async () => {
          const { rows } = await c.db.query(
            `SELECT coalesce(sum(held_micro), 0)::text AS held FROM accounts WHERE id = ANY ($1::uuid[])`,
            [accounts.map((a) => a.id)],
          );
          return (rows[0] as { held: string }).held === '0';
        },
        30_000,
        'every lease given back',
        200,
      );
      for (const what of await snapshot(c.db, accounts)) {
        violations.push({ at: Math.round(performance.now() - started), what: `final: ${what}` });
      }
      snapshots += 1;

      // Every request answered 200 (streams included, cut or left by the client) has its usage event.
      const served = outcomes
        .filter((o) => String(o.status).startsWith('200') && o.requestId)
        .map((o) => o.requestId!);
      let missing: string[] = [];
      await waitFor(
        async () => {
          const { rows } = await c.db.query(
            `SELECT r.id FROM unnest($1::text[]) AS r(id) WHERE NOT EXISTS (SELECT 1 FROM usage_events e WHERE e.request_id = r.id)`,
            [served],
          );
          missing = (rows as Array<{ id: string }>).map((r) => r.id);
          return missing.length === 0;
        },
        20_000,
        'a usage event for every request served',
        500,
      ).catch(() => undefined);

      // What happened, for the CI log.
      const byKind = new Map<string, Map<string, number>>();
      for (const o of outcomes) {
        const kind = byKind.get(o.kind) ?? new Map<string, number>();
        kind.set(String(o.status), (kind.get(String(o.status)) ?? 0) + 1);
        byKind.set(o.kind, kind);
      }
      note(
        `jepsen: ${outcomes.length} requests in ${ms(ranMs)} (${WORKERS} workers), ${snapshots} snapshots, ` +
          `${adjustments} top-ups/adjustments (net ${adjusted} µcr), ${faults.length} faults scripted; leases idle ${ms(idleAfter)} after`,
      );
      for (const [kind, statuses] of byKind) {
        note(`  ${kind}: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => b[1] - a[1])))}`);
      }
      const { rows: finals } = await c.db.query(
        `SELECT a.plan, a.balance_micro::text AS balance, (SELECT count(*)::int FROM usage_events e WHERE e.account_id = a.id) AS events
         FROM accounts a WHERE a.id = ANY ($1::uuid[]) ORDER BY a.plan, a.balance_micro`,
        [accounts.map((a) => a.id)],
      );
      note(
        `  accounts at the end: ${(finals as Array<{ plan: string; balance: string; events: number }>).map((r) => `${r.plan} ${r.balance} µcr (${r.events} events)`).join(', ')}`,
      );
      note(
        `  violations: ${
          violations.length === 0
            ? 'none'
            : violations
                .slice(0, 20)
                .map((v) => `@${v.at} ms ${v.what}`)
                .join(' | ')
        }`,
      );
      note(
        `  served without a usage event: ${missing.length === 0 ? 'none' : missing.slice(0, 10).join(', ')}`,
      );
      logSummary(c, marks, 'jepsen');

      expect(snapshots).toBeGreaterThanOrEqual(Math.floor(JEPSEN_MS / 1000 / 2));
      expect(violations).toEqual([]);
      expect(missing).toEqual([]);
      // Never a 500, nor a request left without an answer (the client's own give-ups aside).
      expect(outcomes.filter((o) => o.status === 500 || String(o.status).startsWith('none'))).toEqual([]);
      for (let i = 0; i < c.size; i++) {
        expect(c.alive(i)).toBe(true);
        expect(crashLines(logSince(c, i, marks[i])), `instance ${i}`).toEqual([]);
      }
      // The run did what it is about: answers served and refused for credit, top-ups applied.
      expect(served.length).toBeGreaterThan(100);
      expect(outcomes.some((o) => o.status === 402)).toBe(true);
      expect(adjustments).toBeGreaterThan(10);
    },
    JEPSEN_MS + 180_000,
  );
});
