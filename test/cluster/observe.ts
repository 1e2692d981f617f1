import { call, chat, chatStream, type Answer } from './client.js';
import { ms, note, type Cluster } from './harness.js';

/**
 * Recording what clients and logs show during a fault, for the fault work to decide what should happen: nothing
 * here asserts; it prints.
 */

export interface Credentials {
  token: string;
  liveKey: string;
  testKey: string;
}

export interface Observation {
  instance: number;
  alive: boolean;
  live: string;
  ready: string;
  testChat: string;
  liveChat: string;
  liveStream: string;
  keysList: string;
}

function show(answer: Answer): string {
  if (answer.status === 0) {
    return `${answer.error} (${ms(answer.ms)})`;
  }
  const code =
    typeof answer.body === 'object' && answer.body !== null && 'error' in answer.body
      ? ` ${(answer.body as { error: { code?: string } }).error.code ?? ''}`.trimEnd()
      : '';
  return `${answer.status}${code} (${ms(answer.ms)})`;
}

/**
 * One round of calls on every instance at once, each bounded by `timeoutMs`: liveness, readiness, a test-key and a
 * live-key chat, a live-key stream, the key list (session + database). Prints a line per instance.
 */
export async function observe(
  c: Cluster,
  label: string,
  who: Credentials,
  timeoutMs = 15_000,
): Promise<Observation[]> {
  const rows = await Promise.all(
    Array.from({ length: c.size }, async (_, i): Promise<Observation> => {
      const url = c.url(i);
      const [live, ready, testChat, liveChat, liveStream, keysList] = await Promise.all([
        call(url, 'GET', '/health/live', { timeoutMs }),
        call(url, 'GET', '/health/ready', { timeoutMs }),
        chat(url, who.testKey, undefined, { timeoutMs }),
        chat(url, who.liveKey, undefined, { timeoutMs }),
        chatStream(url, who.liveKey, undefined, { timeoutMs }),
        call(url, 'GET', '/v1/keys', { auth: who.token, timeoutMs }),
      ]);
      const stream =
        liveStream.status === 0
          ? `${liveStream.error} (${ms(liveStream.ms)})`
          : `${liveStream.status}${liveStream.done ? ' [DONE]' : ''}${
              liveStream.errorBody && liveStream.status === 200 ? ' error event' : ''
            } (${ms(liveStream.ms)})`;
      return {
        instance: i,
        alive: c.alive(i),
        live: show(live),
        ready: show(ready),
        testChat: show(testChat),
        liveChat: show(liveChat),
        liveStream: stream,
        keysList: show(keysList),
      };
    }),
  );
  note(`${label}:`);
  for (const row of rows) {
    note(
      `  instance ${row.instance}: process ${row.alive ? 'alive' : 'GONE'}; /health/live ${row.live}; ` +
        `/health/ready ${row.ready}; chat test key ${row.testChat}; chat live key ${row.liveChat}; ` +
        `stream live key ${row.liveStream}; GET /v1/keys ${row.keysList}`,
    );
  }
  return rows;
}

/** Where each instance's log ends now: `logSummary` reports what comes after. */
export function logMarks(c: Cluster): number[] {
  return Array.from({ length: c.size }, (_, i) => c.logs(i).length);
}

/** The warnings and errors (and non-JSON lines) each instance logged since `marks`, counted by message. */
export function logSummary(c: Cluster, marks: number[], label: string, top = 8): void {
  note(`${label}: what the instances logged (warn and above, by message):`);
  for (let i = 0; i < c.size; i++) {
    const counts = new Map<string, number>();
    for (const line of c.logs(i).slice(marks[i]).split('\n')) {
      if (line.trim() === '') {
        continue;
      }
      let text: string;
      try {
        const parsed = JSON.parse(line) as { level?: number; context?: string; msg?: string };
        if ((parsed.level ?? 0) < 40) {
          continue;
        }
        text = `[${parsed.level}] ${parsed.context ?? ''}: ${parsed.msg ?? ''}`;
      } catch {
        text = line;
      }
      text = text.slice(0, 200);
      counts.set(text, (counts.get(text) ?? 0) + 1);
    }
    const lines = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
    note(`  instance ${i}: ${lines.length === 0 ? 'nothing' : ''}`);
    for (const [text, count] of lines) {
      note(`    ${count} × ${text}`);
    }
  }
}

/**
 * Polls (every 200 ms, at most `timeoutMs`) until a live-key chat on instance i answers 200: ms it took, or null
 * when it did not within the bound. Records; never fails.
 */
export async function timeToServe(
  c: Cluster,
  i: number,
  key: string,
  timeoutMs = 30_000,
): Promise<{ ms: number | null; last: string }> {
  const started = performance.now();
  let last = '';
  while (performance.now() - started < timeoutMs) {
    const answer = await chat(c.url(i), key, undefined, { timeoutMs: 10_000 });
    last = show(answer);
    if (answer.status === 200) {
      return { ms: Math.round(performance.now() - started), last };
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { ms: null, last };
}
