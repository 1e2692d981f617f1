import { beforeAll, describe, expect, it } from 'vitest';
import { createKey, money, signup, waitFor } from './client.js';
import { ms, note, useCluster, type Cluster } from './harness.js';
import { logMarks, logSummary, observe, timeToServe, type Credentials } from './observe.js';
import type { Stopped } from './processes.js';

/**
 * Redis and Postgres stopped (cleanly and with SIGKILL) under a running cluster, then started again on the same
 * port. Asserted: the gateway processes stay up through the outage, and every instance is ready again within a
 * bound once the server is back. Recorded (printed, not asserted: the input for the fault work): what clients get
 * during the outage and after it, how long until a live request is served again, what the instances log.
 */

const READY_AGAIN_MS = 60_000;

function exitText(exit: Stopped): string {
  return `exited in ${ms(exit.ms)} (code ${exit.code}, signal ${exit.signal}${exit.forced ? ', forced' : ''})`;
}

/** Every instance ready again (bounded); prints how long each took. */
async function allReadyAgain(c: Cluster, label: string): Promise<void> {
  const times = await Promise.all(Array.from({ length: c.size }, (_, i) => c.ready(i, READY_AGAIN_MS)));
  note(`${label}: /health/ready 200 again on every instance after ${times.map((t) => ms(t)).join(', ')}`);
}

async function serveAgain(c: Cluster, key: string, label: string): Promise<void> {
  const results = await Promise.all(Array.from({ length: c.size }, (_, i) => timeToServe(c, i, key)));
  note(
    `${label}: a live-key chat answered 200 again ` +
      results
        .map(
          (r, i) =>
            `on instance ${i} ${r.ms === null ? `NOT within 30 s (last: ${r.last})` : `after ${ms(r.ms)}`}`,
        )
        .join(', '),
  );
}

function allAlive(c: Cluster): boolean[] {
  return Array.from({ length: c.size }, (_, i) => c.alive(i));
}

describe('faults of the shared services', () => {
  const cluster = useCluster({ instances: 3, rateLimitRpm: 100_000 });
  const who = {} as Credentials & { accountId: string };

  beforeAll(async () => {
    const c = cluster();
    const { token, accountId } = await signup(c.url(0));
    Object.assign(who, {
      token,
      accountId,
      liveKey: (await createKey(c.url(0), token, 'live')).key,
      testKey: (await createKey(c.url(0), token, 'test')).key,
    });
    await observe(c, 'baseline (everything up)', who);
  });

  describe('Redis', () => {
    for (const how of ['stop', 'kill'] as const) {
      it(`Redis ${how === 'stop' ? 'stopped (SIGTERM)' : 'killed (SIGKILL)'} and restarted: the gateways stay up and are ready again`, async () => {
        const c = cluster();
        const marks = logMarks(c);
        const exit = how === 'stop' ? await c.redis.stop() : await c.redis.kill();
        note(`redis ${how}: ${exitText(exit)}`);
        await observe(c, `redis ${how}: at once`, who);
        expect(allAlive(c)).toEqual([true, true, true]);
        await new Promise((resolve) => setTimeout(resolve, 3_000)); // an observation point, not a condition
        await observe(c, `redis ${how}: 3 s later`, who);
        expect(allAlive(c)).toEqual([true, true, true]);

        const restarted = performance.now();
        await c.redis.start();
        note(`redis ${how}: started again on port ${c.redis.port} in ${ms(performance.now() - restarted)}`);
        await allReadyAgain(c, `redis ${how}`);
        await serveAgain(c, who.liveKey, `redis ${how}`);
        await observe(c, `redis ${how}: after the restart`, who);
        logSummary(c, marks, `redis ${how}`);
        expect(allAlive(c)).toEqual([true, true, true]);
      }, 180_000);
    }
  });

  describe('Postgres', () => {
    for (const how of ['stop', 'kill'] as const) {
      it(`Postgres ${how === 'stop' ? 'stopped (fast shutdown)' : 'killed (SIGKILL, crash recovery)'} and restarted: the gateways stay up and are ready again`, async () => {
        const c = cluster();
        const marks = logMarks(c);
        const exit = how === 'stop' ? await c.postgres.stop() : await c.postgres.kill();
        note(`postgres ${how}: ${exitText(exit)}`);
        await observe(c, `postgres ${how}: at once`, who);
        expect(allAlive(c)).toEqual([true, true, true]);
        await new Promise((resolve) => setTimeout(resolve, 3_000)); // an observation point, not a condition
        await observe(c, `postgres ${how}: 3 s later`, who);
        expect(allAlive(c)).toEqual([true, true, true]);

        const restarted = performance.now();
        await c.postgres.start();
        note(`postgres ${how}: accepting queries again in ${ms(performance.now() - restarted)}`);
        await allReadyAgain(c, `postgres ${how}`);
        await serveAgain(c, who.liveKey, `postgres ${how}`);
        await observe(c, `postgres ${how}: after the restart`, who);
        logSummary(c, marks, `postgres ${how}`);
        expect(allAlive(c)).toEqual([true, true, true]);

        // Recorded: the account's money once leases are idle again (balance against the ledger's sum).
        const settled = await waitFor(
          async () => (await money(c.db, who.accountId)).held === 0n,
          20_000,
          'held_micro 0',
        ).catch((error: Error) => error.message);
        const m = await money(c.db, who.accountId);
        note(
          `postgres ${how}: account after the outage: balance ${m.balance}, Σ ledger ${m.ledger}, held ${m.held}, ` +
            `leases holding credit ${m.leases} (${typeof settled === 'number' ? `idle after ${ms(settled)}` : settled})`,
        );
        const tail = c.postgres.logs().split('\n').slice(-12).join('\n      ');
        note(`postgres ${how}: the server's log ends with:\n      ${tail}`);
      }, 180_000);
    }
  });
});
