import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** Processes of the rig: started pinned to a core with `taskset`, stopped by pid, read through /proc. */

export const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  /** performance.now() at spawn. */
  spawnedAt: number;
  /** Resolves when the process has exited and its stdio is closed. */
  exited: Promise<number | null>;
  /** The last lines of stderr (for error messages). */
  stderrTail: string[];
}

const running = new Set<Proc>();
let stopping = false;

/**
 * `taskset -c CORE command…`: taskset execs the command, so the pid is the command's own. stdout is either a
 * pipe (the caller reads it with `lines`) or a file descriptor (logs); stderr's last lines are kept.
 */
export function spawnPinned(
  name: string,
  core: number,
  command: string[],
  options: { env: NodeJS.ProcessEnv; stdout: 'pipe' | 'ignore' | number; stderr?: 'pipe' | number },
): Proc {
  if (stopping) {
    throw new Error(`the bench is stopping: ${name} not started`);
  }
  const spawnedAt = performance.now();
  const child = spawn('taskset', ['-c', String(core), ...command], {
    env: options.env,
    stdio: ['ignore', options.stdout, options.stderr ?? 'pipe'],
  });
  if (child.pid === undefined) {
    throw new Error(`could not start ${name}`);
  }
  const stderrTail: string[] = [];
  if (child.stderr) {
    createInterface({ input: child.stderr }).on('line', (line) => {
      stderrTail.push(line);
      if (stderrTail.length > 40) {
        stderrTail.shift();
      }
    });
  }
  const proc: Proc = {
    name,
    pid: child.pid,
    child,
    spawnedAt,
    stderrTail,
    exited: new Promise((resolve) => child.on('close', (code) => resolve(code))),
  };
  running.add(proc);
  void proc.exited.then(() => running.delete(proc));
  return proc;
}

export function alive(proc: Proc): boolean {
  return proc.child.exitCode === null && proc.child.signalCode === null;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function stop(proc: Proc, graceMs = 5000): Promise<void> {
  if (!alive(proc)) {
    return;
  }
  try {
    process.kill(proc.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
  if ((await Promise.race([proc.exited, timer])) === 'timeout' && alive(proc)) {
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await proc.exited;
  }
}

/** Stops everything the rig started; nothing new starts after this. */
export async function stopAll(): Promise<void> {
  stopping = true;
  await Promise.all([...running].map((proc) => stop(proc)));
}

/** Last resort on exit: SIGKILL whatever the rig started and is still running. */
export function killAllSync(): void {
  for (const proc of running) {
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Each stdout line of a piped child, as it comes. */
export function lines(proc: Proc, onLine: (line: string) => void): void {
  if (!proc.child.stdout) {
    throw new Error(`${proc.name}: stdout is not piped`);
  }
  createInterface({ input: proc.child.stdout }).on('line', onLine);
}

/** The first stdout line that parses as JSON with a `port`: the port the child listens on. */
export function announcedPort(proc: Proc, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${proc.name} did not announce its port: ${proc.stderrTail.join('\n')}`)),
      timeoutMs,
    );
    void proc.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${proc.name} exited (${code}) before listening: ${proc.stderrTail.join('\n')}`));
    });
    lines(proc, (line) => {
      try {
        const parsed = JSON.parse(line) as { port?: number };
        if (typeof parsed.port === 'number') {
          clearTimeout(timer);
          resolve(parsed.port);
        }
      } catch {
        // not the announcement
      }
    });
  });
}

/** CPU time (user + system) the process has used, in ms, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** Resident set size in MiB, from /proc/<pid>/status (VmRSS). */
export function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Busy and total jiffies of each CPU, from /proc/stat. */
export function coreTimes(): Array<{ busy: number; total: number }> {
  const out: Array<{ busy: number; total: number }> = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const match = /^cpu(\d+) (.*)$/.exec(line);
    if (!match) {
      continue;
    }
    const [user, nice, system, idle, iowait, irq, softirq, steal] = match[2].trim().split(/\s+/).map(Number);
    const total = user + nice + system + idle + iowait + irq + softirq + steal;
    out[Number(match[1])] = { busy: total - idle - iowait, total };
  }
  return out;
}

/** Share of each core that was busy between two `coreTimes()` readings, in %. */
export function coreBusy(
  before: Array<{ busy: number; total: number }>,
  after: Array<{ busy: number; total: number }>,
): number[] {
  return after.map((end, core) => {
    const start = before[core];
    const total = end.total - start.total;
    return total > 0 ? ((end.busy - start.busy) / total) * 100 : Number.NaN;
  });
}

/** Pins the calling process (all its threads) to one core. */
export function pinSelf(core: number): void {
  const result = spawnSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], {
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    throw new Error(`taskset could not pin the rig to core ${core}: ${result.stderr}`);
  }
}
