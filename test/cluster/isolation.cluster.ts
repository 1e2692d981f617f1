import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import {
  chat,
  countStatuses,
  createKey,
  openStream,
  signup,
  waitFor,
  type Answer,
  type LiveStream,
} from './client.js';
import { ms, note, useCluster, type Cluster } from './harness.js';

/**
 * One client must not hurt the others: a huge prompt does not freeze its instance, one key's hundred slow
 * streams do not starve other keys, and a provider that hangs costs a request its timeout, not forever.
 */

const FIRST_BYTE_TIMEOUT_MS = 1_000;
const KEY_MAX_CONCURRENT = 20;

/** Poll answers of `/health/live`, measured by a process of their own (this one is busy sending prompts). */
interface Poller {
  /** Latencies (ms) and statuses of the polls answered so far. */
  polls: Array<{ ms: number; status: number; at: number }>;
  stop(): Promise<void>;
}

/**
 * Starts a child process that polls `url` every ~20 ms, one request at a time on a kept-alive connection, and
 * prints each poll's latency; stopped (by its pid, it is our child) with `stop()`, and on its own when this process
 * goes (its stdin closes).
 */
function startPoller(url: string): Poller {
  const script = `
    const http = require('node:http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const poll = () => {
      const started = performance.now();
      const req = http.get(process.argv[1], { agent, timeout: 10000 }, (res) => {
        res.resume();
        res.on('end', () => {
          process.stdout.write(JSON.stringify({ ms: performance.now() - started, status: res.statusCode, at: Date.now() }) + '\\n');
          setTimeout(poll, 20);
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        process.stdout.write(JSON.stringify({ ms: performance.now() - started, status: 0, at: Date.now() }) + '\\n');
        setTimeout(poll, 20);
      });
    };
    poll();
    // our stdin is the parent's pipe: when the parent goes (even killed), so does the poller
    process.stdin.on('close', () => process.exit(0));
    process.stdin.resume();`;
  const child = spawn(process.execPath, ['-e', script, url], { stdio: ['pipe', 'pipe', 'inherit'] });
  const polls: Poller['polls'] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      polls.push(JSON.parse(line) as Poller['polls'][number]);
    } catch {
      // not a poll line
    }
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    polls,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function chatBody(content: string): string {
  return JSON.stringify({ model: 'gpt-6-luna', messages: [{ role: 'user', content }], max_tokens: 8 });
}

/** A prepared body sent as it is (no serialization in this process while the poller runs). */
async function postPrepared(base: string, key: string, body: string): Promise<Answer> {
  const started = performance.now();
  try {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return {
      status: res.status,
      headers: res.headers,
      body: parsed,
      ms: Math.round(performance.now() - started),
    };
  } catch (error) {
    return {
      status: 0,
      headers: new Headers(),
      body: null,
      ms: Math.round(performance.now() - started),
      error: (error as Error).message,
    };
  }
}

describe('one client does not hurt the others', () => {
  const cluster = useCluster({
    instances: 3,
    rateLimitRpm: 100_000,
    env: {
      // the product's default (the harness raises it for bursts): this file is about it
      KEY_MAX_CONCURRENT: String(KEY_MAX_CONCURRENT),
      UPSTREAM_FIRST_BYTE_TIMEOUT_MS: String(FIRST_BYTE_TIMEOUT_MS),
    },
  });

  it('a 150 KB prompt of one character and a 9.5 MB prompt do not freeze the instance: /health/live answers every ~20 ms poll within 100 ms', async () => {
    const c = cluster();
    const { token } = await signup(c.url(0));
    const { key } = await createKey(c.url(0), token, 'test');
    // Prepared before the polls start: this process does no big serialization while they are measured.
    const small = chatBody('a'.repeat(150 * 1024));
    const big = chatBody('b'.repeat(Math.floor(9.5 * 1024 * 1024) - 200));
    expect(Buffer.byteLength(big)).toBeLessThan(10 * 1024 * 1024);
    expect(Buffer.byteLength(big)).toBeGreaterThan(9.4 * 1024 * 1024);

    const poller = startPoller(`${c.url(1)}/health/live`);
    try {
      await waitFor(() => poller.polls.length >= 10, 15_000, 'the poller under way');
      const from = poller.polls.length;
      const answers: Array<[string, Answer]> = [];
      for (const [label, body] of [
        ['150 KB of one character', small],
        ['9.5 MB', big],
        ['150 KB of one character, again', small],
        ['9.5 MB, again', big],
        ['150 KB of one character, a third time', small],
      ] as const) {
        answers.push([label, await postPrepared(c.url(1), key, body)]);
      }
      const after = poller.polls.length;
      await waitFor(() => poller.polls.length >= after + 10, 15_000, '10 more polls after the prompts');
      const polls = poller.polls.slice(from);
      const worst = Math.max(...polls.map((p) => p.ms));
      note(
        `freeze: ${answers.map(([label, a]) => `${label}: ${a.status} ${a.body?.error?.code ?? ''} in ${ms(a.ms)}`).join('; ')}; ` +
          `${polls.length} polls of /health/live meanwhile, slowest ${ms(worst)}, ` +
          `over 50 ms: ${polls.filter((p) => p.ms > 50).length}`,
      );
      for (const [label, answer] of answers) {
        // Answered, and not as a failure of the gateway: a mock answer, or a 400 for a prompt past the window.
        expect([200, 400], `${label}: ${JSON.stringify(answer.body).slice(0, 300)}`).toContain(answer.status);
      }
      expect(polls.every((p) => p.status === 200)).toBe(true);
      expect(
        polls.filter((p) => p.ms >= 100).map((p) => Math.round(p.ms)),
        'polls of /health/live that took 100 ms or more',
      ).toEqual([]);
    } finally {
      await poller.stop();
    }
  }, 120_000);

  it(`100 slow streams on one key: each instance admits ${KEY_MAX_CONCURRENT}, the rest get 429 at once, and other keys are served within 1 s meanwhile`, async () => {
    const c = cluster();
    const { token } = await signup(c.url(0));
    const keyA = (await createKey(c.url(0), token, 'live')).key;
    const keyB = (await createKey(c.url(0), token, 'live')).key; // same account, another key
    const other = await signup(c.url(1));
    const keyC = (await createKey(c.url(1), other.token, 'live')).key; // another account
    // Key A's streams stall after 2 chunks and stay open; other models of the same provider answer at once.
    c.fakes.openai.addFault({ kind: 'stall', afterChunks: 2 }, { times: Infinity, model: 'gpt-6-luna' });
    const slow = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 50 };
    const quick = { model: 'gpt-6.1-terra', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8 };
    let streams: LiveStream[] = [];
    try {
      streams = await Promise.all(
        Array.from({ length: 100 }, (_, n) => openStream(c.url(n % 3), keyA, slow, { timeoutMs: 90_000 })),
      );
      const byInstance = [0, 1, 2].map((i) => countStatuses(streams.filter((_, n) => n % 3 === i)));
      note(
        `slow streams: key A ${JSON.stringify(countStatuses(streams))}; per instance ${JSON.stringify(byInstance)}`,
      );
      expect(byInstance).toEqual([
        { 200: KEY_MAX_CONCURRENT, 429: 34 - KEY_MAX_CONCURRENT },
        { 200: KEY_MAX_CONCURRENT, 429: 33 - KEY_MAX_CONCURRENT },
        { 200: KEY_MAX_CONCURRENT, 429: 33 - KEY_MAX_CONCURRENT },
      ]);
      for (const refused of streams.filter((s) => s.status === 429)) {
        expect(refused.errorBody?.error?.code).toBe('concurrency_limit_exceeded');
        expect(refused.headers.get('retry-after')).not.toBeNull();
      }
      // The admitted streams have started (content arrived) and are held open by the provider.
      await Promise.all(streams.filter((s) => s.status === 200).map((s) => s.until(2, 30_000)));

      // Meanwhile: other keys, JSON and streams, on every instance.
      const others = await Promise.all(
        [0, 1, 2].flatMap((i) => [
          chat(c.url(i), keyB, quick, { timeoutMs: 30_000 }).then((a) => ({
            what: `B json @${i}`,
            status: a.status,
            ms: a.ms,
          })),
          chat(c.url(i), keyC, quick, { timeoutMs: 30_000 }).then((a) => ({
            what: `C json @${i}`,
            status: a.status,
            ms: a.ms,
          })),
          openStream(c.url(i), keyB, quick, { timeoutMs: 30_000 }).then(async (s) => {
            const end = await s.ended;
            return { what: `B stream @${i}`, status: end.done ? s.status : -1, ms: end.ms };
          }),
        ]),
      );
      note(
        `slow streams: other keys meanwhile: ${others.map((o) => `${o.what} ${o.status} ${ms(o.ms)}`).join(', ')}`,
      );
      for (const o of others) {
        expect(o.status, o.what).toBe(200);
        expect(o.ms, `${o.what} answered in ${o.ms} ms`).toBeLessThan(1_000);
      }
      // Key A's streams are still open (the others were not served by waiting them out).
      expect(streams.filter((s) => s.status === 200).every((s) => s.pieces === 2)).toBe(true);
    } finally {
      streams.forEach((s) => s.abort());
      await Promise.all(streams.map((s) => s.ended));
      c.fakes.openai.clearFaults();
    }
    // Their places are given back: key A is served again on every instance.
    for (let i = 0; i < c.size; i++) {
      const waited = await waitFor(
        async () => (await chat(c.url(i), keyA, quick, { timeoutMs: 10_000 })).status === 200,
        15_000,
        `key A served again on instance ${i}`,
        200,
      );
      note(`slow streams: key A served again on instance ${i} after ${ms(waited)}`);
    }
  }, 180_000);

  it(`a hung provider: a gpt-6-luna request is served by its fallback after ${FIRST_BYTE_TIMEOUT_MS} ms; every candidate hanging is a 504 upstream_timeout`, async () => {
    const c = cluster();
    const { token } = await signup(c.url(0));
    const { key } = await createKey(c.url(0), token, 'live');
    const body = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8 };
    const bound = 3 * FIRST_BYTE_TIMEOUT_MS + 10_000; // a couple of timeouts, and a loaded machine
    try {
      c.fakes.openai.addFault({ kind: 'hang' }, { times: Infinity });
      const served = await runOnEach(c, key, body);
      note(`hung provider (openai): ${served.map((s) => s.line).join(', ')}`);
      for (const s of served) {
        expect(s.status, s.line).toBe(200);
        expect(s.provider, s.line).toBe('anthropic');
        expect(s.ms, s.line).toBeLessThan(bound);
      }
      // The first request of each instance waited out openai's timeout before its fallback.
      for (const s of served.filter((x) => x.first)) {
        expect(s.attempts, s.line).toBe('2');
        expect(s.ms, s.line).toBeGreaterThanOrEqual(FIRST_BYTE_TIMEOUT_MS);
      }

      c.fakes.anthropic.addFault({ kind: 'hang' }, { times: Infinity });
      const timedOut = await runOnEach(c, key, body);
      note(`hung provider (openai and anthropic): ${timedOut.map((s) => s.line).join(', ')}`);
      for (const s of timedOut) {
        expect(s.status, s.line).toBe(504);
        expect(s.code, s.line).toBe('upstream_timeout');
        expect(s.ms, s.line).toBeGreaterThanOrEqual(FIRST_BYTE_TIMEOUT_MS);
        expect(s.ms, s.line).toBeLessThan(bound);
      }
    } finally {
      c.fakes.openai.clearFaults();
      c.fakes.anthropic.clearFaults();
    }
  }, 120_000);
});

/** On every instance at once: a JSON request, then a streamed one; what each got. */
async function runOnEach(c: Cluster, key: string, body: Record<string, unknown>) {
  const perInstance = await Promise.all(
    Array.from({ length: c.size }, async (_, i) => {
      const json = await chat(c.url(i), key, body, { timeoutMs: 60_000 });
      const stream = await openStream(c.url(i), key, body, { timeoutMs: 60_000 });
      const end = await stream.ended;
      const ok = stream.status === 200 && end.done;
      return [
        {
          line: `@${i} json ${json.status} ${json.headers.get('x-conflux-provider') ?? json.body?.error?.code ?? ''} ${ms(json.ms)}`,
          status: json.status,
          provider: json.headers.get('x-conflux-provider'),
          attempts: json.headers.get('x-conflux-attempts'),
          code: json.body?.error?.code as string | undefined,
          ms: json.ms,
          first: true,
        },
        {
          line: `@${i} stream ${stream.status}${ok ? ' [DONE]' : ''} ${stream.headers.get('x-conflux-provider') ?? stream.errorBody?.error?.code ?? ''} ${ms(end.ms)}`,
          // a 200 stream that did not end with [DONE] is not a success
          status: stream.status === 200 && !ok ? -1 : stream.status,
          provider: stream.headers.get('x-conflux-provider'),
          attempts: stream.headers.get('x-conflux-attempts'),
          code: stream.errorBody?.error?.code as string | undefined,
          ms: end.ms,
          first: false,
        },
      ];
    }),
  );
  return perInstance.flat();
}
