import type { Answer } from './client.js';
import { ms, note, type Cluster } from './harness.js';

/**
 * What a scenario prints for CI logs besides its assertions: answers in brief, status counts, and what the
 * instances logged at warn and above while the scenario ran.
 */

/** `503 service_unavailable (12 ms)`, or `ECONNREFUSED (3 ms)` when there was no answer. */
export function brief(answer: Answer): string {
  if (answer.status === 0) {
    return `${answer.error} (${ms(answer.ms)})`;
  }
  const code =
    typeof answer.body === 'object' && answer.body !== null && 'error' in answer.body
      ? ` ${(answer.body as { error: { code?: string } }).error?.code ?? ''}`.trimEnd()
      : '';
  return `${answer.status}${code} (${ms(answer.ms)})`;
}

/** Where each instance's log ends now: `logSummary` and `logSince` report what comes after. */
export function logMarks(c: Cluster): number[] {
  return Array.from({ length: c.size }, (_, i) => c.logs(i).length);
}

/** Instance i's log lines since `mark` (a value of `logMarks`), raw. */
export function logSince(c: Cluster, i: number, mark: number): string[] {
  return c
    .logs(i)
    .slice(mark)
    .split('\n')
    .filter((line) => line.trim() !== '');
}

/** Lines of a log that say the process crashed or hit an unexpected error (500s, uncaught exceptions). */
export function crashLines(lines: string[]): string[] {
  return lines.filter((line) => {
    if (/uncaught|unhandled|FATAL ERROR|Error: .* at /i.test(line) && !line.startsWith('{')) {
      return true;
    }
    try {
      const parsed = JSON.parse(line) as { level?: number; status?: number; err?: { type?: string } };
      return (parsed.level ?? 0) >= 60 || parsed.status === 500;
    } catch {
      return false;
    }
  });
}

/** Prints the warnings and errors (and non-JSON lines) each instance logged since `marks`, counted by message. */
export function logSummary(c: Cluster, marks: number[], label: string, top = 8): void {
  note(`${label}: what the instances logged (warn and above, by message):`);
  for (let i = 0; i < c.size; i++) {
    const counts = new Map<string, number>();
    for (const line of logSince(c, i, marks[i] ?? 0)) {
      let text: string;
      try {
        const parsed = JSON.parse(line) as {
          level?: number;
          context?: string;
          msg?: string;
          status?: number;
          err?: { type?: string; message?: string };
        };
        if ((parsed.level ?? 0) < 40) {
          continue;
        }
        // an error's status and message say what it was (warnings of a known kind are grouped by message)
        const detail =
          (parsed.level ?? 0) >= 50 && parsed.err
            ? ` (${parsed.status ?? ''} ${parsed.err.type ?? ''}: ${parsed.err.message ?? ''})`
            : '';
        text = `[${parsed.level}] ${parsed.context ?? ''}: ${parsed.msg ?? ''}${detail}`;
      } catch {
        text = line;
      }
      text = text.slice(0, 400);
      counts.set(text, (counts.get(text) ?? 0) + 1);
    }
    const lines = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
    note(`  instance ${i}: ${lines.length === 0 ? 'nothing' : ''}`);
    for (const [text, count] of lines) {
      note(`    ${count} × ${text}`);
    }
  }
}

/** `{ "200": 12, "503": 3 }` as a short string. */
export function counts(values: Array<number | string>): string {
  const out: Record<string, number> = {};
  for (const v of values) {
    out[String(v)] = (out[String(v)] ?? 0) + 1;
  }
  return JSON.stringify(out);
}

/** The log lines (any instance, since `marks`) that name a request id: to say why it failed. */
export function linesAbout(c: Cluster, marks: number[], requestId: string | null): string[] {
  if (!requestId) {
    return [];
  }
  const out: string[] = [];
  for (let i = 0; i < c.size; i++) {
    for (const line of logSince(c, i, marks[i] ?? 0)) {
      if (line.includes(requestId)) {
        out.push(`instance ${i}: ${line.slice(0, 1_500)}`);
      }
    }
  }
  return out;
}
