import { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  call,
  chat,
  createKey,
  EXACT,
  leases,
  money,
  openStream,
  signup,
  waitFor,
  type Answer,
} from './client.js';
import { brief, crashLines, logMarks, logSince, logSummary } from './evidence.js';
import { ms, note, useCluster, type Cluster } from './harness.js';

/**
 * An instance stopped while it serves: SIGTERM drains it (readiness 503 at once, new requests refused, requests in
 * flight finish within SHUTDOWN_GRACE_MS or end with an error frame past it, all billed, exit 0); SIGKILL loses
 * nothing either (another instance bills what it had delivered, its credit lease goes back).
 */

const RECOVERY = { LEASE_TTL_MS: 3_000, INSTANCE_TIMEOUT_MS: 3_000, RECONCILE_INTERVAL_MS: 1_000 };
const RECOVERY_ENV = Object.fromEntries(Object.entries(RECOVERY).map(([k, v]) => [k, String(v)]));

/** A usage event with what the scenarios check, or undefined. */
async function usageEvent(c: Cluster, requestId: string) {
  const { rows } = await c.db.query(
    `SELECT e.status, e.http_status, e.completion_tokens, e.prompt_tokens, e.cost_micro::text AS cost,
            e.estimated, e.error_code,
            (SELECT count(*)::int FROM credit_ledger l WHERE l.reference = 'usage:' || e.request_id) AS entries
       FROM usage_events e WHERE e.request_id = $1`,
    [requestId],
  );
  return rows[0] as
    | {
        status: string;
        http_status: number;
        completion_tokens: number;
        prompt_tokens: number;
        cost: string;
        estimated: boolean;
        error_code: string | null;
        entries: number;
      }
    | undefined;
}

/** Polls instance i's readiness until it answers 503 (draining), bounded; returns that answer. */
async function until503(c: Cluster, i: number, boundMs: number): Promise<Answer> {
  let last: Answer | undefined;
  await waitFor(
    async () => {
      last = await call(c.url(i), 'GET', '/health/ready', { timeoutMs: 2_000 });
      return last.status === 503;
    },
    boundMs,
    `instance ${i} readiness 503`,
    10,
  );
  return last!;
}

describe('an instance stopped while it serves', () => {
  const cluster = useCluster({ instances: 3, env: RECOVERY_ENV });
  // Each scenario starts with every instance running (one that failed may have left one stopped).
  beforeEach(async () => {
    const c = cluster();
    for (let i = 0; i < c.size; i++) {
      if (!c.alive(i)) {
        await c.restart(i, { SHUTDOWN_GRACE_MS: '30000' });
      }
    }
  });

  it('SIGTERM: readiness 503 at once, new requests refused with 503 and retry-after, a JSON request and a stream in flight finish and are billed, exit 0', async () => {
    const c = cluster();
    const { token, accountId } = await signup(c.url(0));
    const { key } = await createKey(c.url(0), token, 'live');
    const marks = logMarks(c);
    const before = c.fakes.openai.chatRequests().length;
    // Both wait 4 s at the provider before the first byte: in flight when the signal comes.
    c.fakes.openai.addFault({ kind: 'slow', ms: 4_000 }, { times: 2 });
    let finished = 0;
    const json = chat(c.url(2), key, EXACT, { timeoutMs: 60_000 }).finally(() => (finished += 1));
    const stream = openStream(c.url(2), key, { ...EXACT, max_tokens: 40 }, { timeoutMs: 60_000 }).then(
      async (s) => ({ s, end: await s.ended }),
    );
    void stream.finally(() => (finished += 1));
    await waitFor(
      () => c.fakes.openai.chatRequests().length >= before + 2,
      15_000,
      'both requests at the provider',
    );

    const signalled = performance.now();
    const exit = c.sigterm(2);
    const ready = await until503(c, 2, 2_000);
    const readyAfter = performance.now() - signalled;
    const refused = await chat(c.url(2), key, EXACT, { timeoutMs: 10_000 });
    const refusedStream = await openStream(c.url(2), key, EXACT, { timeoutMs: 10_000 });
    const keys = await call(c.url(2), 'GET', '/v1/keys', { auth: token, timeoutMs: 10_000 });
    const finishedDuringChecks = finished;
    note(
      `drain: readiness 503 ${ms(readyAfter)} after SIGTERM (${JSON.stringify(ready.body?.details?.instance ?? ready.body?.error?.instance)}); ` +
        `new chat ${brief(refused)} retry-after ${refused.headers.get('retry-after')}; new stream ${refusedStream.status}; ` +
        `GET /v1/keys ${brief(keys)}; in flight finished meanwhile: ${finishedDuringChecks}`,
    );
    expect(finishedDuringChecks, 'the checks ran while the requests were in flight').toBe(0);
    expect(ready.body?.details?.instance ?? ready.body?.error?.instance).toMatchObject({ state: 'draining' });
    for (const answer of [refused, keys]) {
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe('service_unavailable');
      expect(answer.headers.get('retry-after')).not.toBeNull();
    }
    expect(refusedStream.status).toBe(503);
    expect(refusedStream.headers.get('retry-after')).not.toBeNull();

    const [answered, streamed, stopped] = await Promise.all([json, stream, exit]);
    note(
      `drain: JSON ${brief(answered)}, stream ${streamed.s.status} done ${streamed.end.done} (${streamed.end.pieces} pieces, ${ms(streamed.end.ms)}); ` +
        `exited ${ms(stopped.ms)} after SIGTERM, code ${stopped.code}, signal ${stopped.signal}${stopped.forced ? ' (FORCED)' : ''}`,
    );
    logSummary(c, marks, 'drain');
    expect(answered.status).toBe(200);
    expect(answered.body.usage).toMatchObject({ completion_tokens: 199, cost_credits: '0.01' });
    expect(streamed.s.status).toBe(200);
    expect(streamed.end).toMatchObject({ done: true, pieces: 40 });
    expect(stopped).toMatchObject({ code: 0, signal: null, forced: false });
    expect(stopped.ms).toBeLessThan(30_000);
    expect(logSince(c, 2, marks[2]).join('\n')).toContain('draining: 2 requests in flight');
    // A deploy is not an error: nothing at `error` or above (readiness saying "draining" is a warning).
    expect(
      logSince(c, 2, marks[2]).filter((line) => /"level":(5|6)0/.test(line)),
      'error lines during a drain',
    ).toEqual([]);

    // Each settled before the exit: its usage event and its ledger entry; the lease went back with the instance.
    for (const id of [answered.headers.get('x-request-id')!, streamed.s.requestId!]) {
      expect(await usageEvent(c, id), id).toMatchObject({
        status: 'completed',
        http_status: 200,
        entries: 1,
      });
    }
    const m = await money(c.db, accountId);
    expect(m.ledger).toBe(m.balance);
    expect(m.balance).toBe(500_000_000n - 10_000n - (50n + 40n * 50n));
    expect(m.held).toBe(0n);
    expect(m.leases).toBe(0);

    await c.restart(2);
    expect((await chat(c.url(2), key)).status).toBe(200);
  }, 120_000);

  it('SIGTERM past SHUTDOWN_GRACE_MS (1 s): a stalled stream ends with an error frame and what it delivered is billed; a JSON request still waiting gets 503 and is billed for its prompt; exit 0', async () => {
    const c = cluster();
    await c.restart(2, { SHUTDOWN_GRACE_MS: '1000' });
    const { token, accountId } = await signup(c.url(0));
    const { key } = await createKey(c.url(0), token, 'live');
    const marks = logMarks(c);
    const before = c.fakes.openai.chatRequests().length;
    c.fakes.openai.addFault({ kind: 'stall', afterChunks: 5 }, { model: 'gpt-6-luna' });
    const stream = await openStream(c.url(2), key, { ...EXACT, max_tokens: 40 }, { timeoutMs: 60_000 });
    expect(stream.status).toBe(200);
    await stream.until(5);
    c.fakes.openai.addFault({ kind: 'slow', ms: 20_000 }, { model: 'gpt-6-luna' });
    const json = chat(c.url(2), key, EXACT, { timeoutMs: 60_000 });
    await waitFor(
      () => c.fakes.openai.chatRequests().length >= before + 2,
      15_000,
      'the JSON request at the provider',
    );

    const stopped = await c.sigterm(2, 15_000);
    const [end, answered] = await Promise.all([stream.ended, json]);
    note(
      `past the grace: stream ${JSON.stringify({ ...end, content: undefined })}; JSON ${brief(answered)} ` +
        `retry-after ${answered.headers.get('retry-after')}; exited ${ms(stopped.ms)} after SIGTERM, code ${stopped.code}, ` +
        `signal ${stopped.signal}${stopped.forced ? ' (FORCED)' : ''}`,
    );
    logSummary(c, marks, 'past the grace');
    expect(stopped).toMatchObject({ code: 0, signal: null, forced: false });
    expect(stopped.ms).toBeLessThan(10_000);
    expect(end.done).toBe(false);
    expect(end.pieces).toBe(5);
    expect(end.errorFrame?.message).toMatch(/shutting down/);
    expect(answered.status).toBe(503);
    expect(answered.body.error.code).toBe('service_unavailable');
    expect(answered.headers.get('retry-after')).not.toBeNull();

    const streamed = await usageEvent(c, stream.requestId!);
    expect(streamed).toMatchObject({ status: 'cut', completion_tokens: 5, estimated: true, entries: 1 });
    const waited = await usageEvent(c, answered.headers.get('x-request-id')!);
    expect(waited).toMatchObject({ status: 'aborted', completion_tokens: 0, entries: 1 });
    expect(Number(waited!.cost)).toBeGreaterThan(0);
    const m = await money(c.db, accountId);
    expect(m.ledger).toBe(m.balance);
    expect(m.balance).toBe(500_000_000n - BigInt(streamed!.cost) - BigInt(waited!.cost));
    expect(m.held).toBe(0n);

    await c.restart(2, { SHUTDOWN_GRACE_MS: '30000' });
  }, 120_000);

  it('SIGKILL mid-stream: another instance bills what was delivered (aborted, instance_lost), the dead lease goes back, balance = Σ ledger', async () => {
    const c = cluster();
    const { token, accountId } = await signup(c.url(0));
    const { key } = await createKey(c.url(0), token, 'live');
    const marks = logMarks(c);
    const redis = new Redis(c.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      c.fakes.openai.addFault({ kind: 'stall', afterChunks: 30 }, { model: 'gpt-6-luna' });
      const stream = await openStream(c.url(1), key, { ...EXACT, max_tokens: 100 }, { timeoutMs: 60_000 });
      expect(stream.status).toBe(200);
      await stream.until(30);
      const requestId = stream.requestId!;

      // The instance writes what it has in flight every second: wait until that record shows the delivery.
      let owner = '';
      let journaled = 0;
      await waitFor(
        async () => {
          for (const name of await redis.keys('conflux:inflight:*')) {
            const entry = await redis.hget(name, requestId);
            if (entry) {
              owner = name.slice('conflux:inflight:'.length);
              journaled = (JSON.parse(entry) as { completionTokens: number }).completionTokens;
            }
          }
          return journaled >= 30;
        },
        10_000,
        'the in-flight journal to show the delivered tokens',
      );
      const leased = await leases(c.db, accountId);
      expect(leased.some((l) => l.instance_id === owner && BigInt(l.amount) > 0n)).toBe(true);

      const killed = await c.sigkill(1);
      const at = performance.now();
      const end = await stream.ended;
      expect(killed.signal).toBe('SIGKILL');
      expect(end.done).toBe(false);
      expect(end.pieces).toBe(30);

      const billedAfter = await waitFor(
        async () => (await usageEvent(c, requestId)) !== undefined,
        20_000,
        'the lost request billed by another instance',
      );
      const event = await usageEvent(c, requestId);
      const leaseGoneAfter = await waitFor(
        async () => {
          const m = await money(c.db, accountId);
          return m.held === 0n && (await leases(c.db, accountId)).every((l) => l.instance_id !== owner);
        },
        20_000,
        'the dead instance’s lease given back',
      );
      const m = await money(c.db, accountId);
      note(
        `SIGKILL mid-stream: ${end.pieces} pieces delivered (journal said ${journaled}); billed ${ms(billedAfter)} after the kill: ` +
          `${JSON.stringify(event)}; dead lease gone ${ms(leaseGoneAfter)} after; balance ${m.balance}, Σ ledger ${m.ledger}, held ${m.held}`,
      );
      logSummary(c, marks, 'SIGKILL mid-stream');
      expect(event).toMatchObject({ status: 'aborted', error_code: 'instance_lost', entries: 1 });
      expect(event!.completion_tokens).toBeGreaterThan(0);
      expect(event!.completion_tokens).toBe(30);
      expect(Number(event!.cost)).toBeGreaterThan(0);
      expect(billedAfter, 'billed within instance timeout + a reconcile interval (+ slack)').toBeLessThan(
        RECOVERY.INSTANCE_TIMEOUT_MS + RECOVERY.RECONCILE_INTERVAL_MS + 6_000,
      );
      expect(performance.now() - at).toBeLessThan(40_000);
      expect(m.held).toBe(0n);
      expect(m.ledger).toBe(m.balance);
      expect(m.balance).toBe(500_000_000n - BigInt(event!.cost));

      // The others served on, and did not crash.
      for (const i of [0, 2]) {
        expect(c.alive(i)).toBe(true);
        expect(crashLines(logSince(c, i, marks[i]))).toEqual([]);
        expect((await chat(c.url(i), key)).status).toBe(200);
      }
    } finally {
      redis.disconnect();
    }
    await c.restart(1);
    expect((await chat(c.url(1), key)).status).toBe(200);
  }, 120_000);
});
