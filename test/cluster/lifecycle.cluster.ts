import { describe, expect, it } from 'vitest';
import { chat, createKey, signup, waitFor } from './client.js';
import { ms, note, useCluster, type Cluster } from './harness.js';

/** What instance i logged since its last start (the lines after the harness's last `--- harness: start`). */
function sinceLastStart(c: Cluster, i: number): string[] {
  const text = c.logs(i);
  return text
    .slice(text.lastIndexOf('--- harness: start'))
    .split('\n')
    .slice(1)
    .filter((line) => line.trim() !== '');
}

/** A log line, shortened to what it says (pino JSON: level, context, msg). */
function brief(line: string): string {
  try {
    const parsed = JSON.parse(line) as {
      level?: number;
      context?: string;
      msg?: string;
      err?: { message?: string };
    };
    return `level ${parsed.level} ${parsed.context ?? ''}: ${parsed.msg ?? ''}${parsed.err ? ` (${parsed.err.message})` : ''}`;
  } catch {
    return line.slice(0, 300);
  }
}

describe('instance lifecycle', () => {
  const cluster = useCluster({ instances: 3 });

  // Scaffolding for the drain scenario: today only the time to exit is asserted; the exit code is recorded.
  it('SIGTERM on an idle instance: it exits within a few seconds; restarted on its port, it serves again', async () => {
    const c = cluster();
    const { token } = await signup(c.url(0));
    const { key } = await createKey(c.url(0), token, 'live');
    const served = await chat(c.url(2), key); // it has served, and nothing is in flight now
    expect(served.status).toBe(200);
    // its log line for that request is written (after the answer): what follows is the shutdown's
    const requestId = served.headers.get('x-request-id')!;
    await waitFor(() => c.logs(2).includes(requestId), 10_000, 'the request logged');
    const linesBefore = sinceLastStart(c, 2).length;
    const pid = c.pid(2);

    const exit = await c.sigterm(2);
    const after = sinceLastStart(c, 2).slice(linesBefore);
    note(
      `SIGTERM on idle instance 2 (pid ${pid}): exited in ${ms(exit.ms)}, code ${exit.code}, signal ${exit.signal}` +
        `${exit.forced ? ' (did not exit: SIGKILL)' : ''}; it logged after the signal:\n` +
        (after.length > 0 ? after.map((line) => `    ${brief(line)}`).join('\n') : '    (nothing)'),
    );
    expect(exit.forced).toBe(false);
    expect(exit.ms).toBeLessThan(10_000);
    expect(c.alive(2)).toBe(false);

    // the others did not notice
    for (const i of [0, 1]) {
      expect((await chat(c.url(i), key)).status).toBe(200);
    }
    await c.restart(2);
    expect((await chat(c.url(2), key)).status).toBe(200);
  }, 120_000);

  it('SIGKILL on an instance: the others serve on; restarted on its port, it serves again', async () => {
    const c = cluster();
    const { token } = await signup(c.url(0));
    const { key } = await createKey(c.url(0), token, 'live');
    const exit = await c.sigkill(1);
    note(`SIGKILL on instance 1: exited in ${ms(exit.ms)}, code ${exit.code}, signal ${exit.signal}`);
    expect(exit.signal).toBe('SIGKILL');
    for (const i of [0, 2]) {
      expect((await chat(c.url(i), key)).status).toBe(200);
    }
    const refused = await chat(c.url(1), key, undefined, { timeoutMs: 5_000 });
    expect(refused.status).toBe(0); // nothing listens there
    await c.restart(1);
    expect((await chat(c.url(1), key)).status).toBe(200);
  }, 120_000);
});
