import { spawn, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The processes of a cluster suite: every one started through a `ProcessBook`, which writes its pid (and its
 * start time, so a later process that reuses the pid is never mistaken for it) into the cluster's directory.
 * Everything is stopped by pid: in the suite's `afterAll`, on the test process's exit, and, for a test process
 * that died without either, by `sweepAbandoned()` in the global set-up (next run) and teardown (this run). Nothing
 * is ever stopped by name.
 */

/** Parent of every cluster directory of this user: `sweepAbandoned()` looks only here. */
export const CLUSTER_ROOT = path.join(os.tmpdir(), `conflux-cluster-${process.getuid?.() ?? 'user'}`);

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Stopped extends Exit {
  /** ms from the signal to the exit (and, for a process group, to the last member's exit). */
  ms: number;
  /** The process outlived the grace period and was killed with SIGKILL. */
  forced: boolean;
}

export interface Proc {
  name: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat: with the pid, names this process and no later one. */
  startTime: string;
  /** Leader of its own process group (postgres: the postmaster and its backends), killed as a whole. */
  group: boolean;
  child: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<Exit>;
}

/** `[state, process group, start time]` of a live process from /proc/<pid>/stat, or null when there is none. */
function stat(pid: number): { state: string; pgrp: number; startTime: string } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "(comm) ": index 0 is field 3 (state), 2 is field 5 (pgrp), 19 is field 22 (starttime)
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], pgrp: Number(fields[2]), startTime: fields[19] };
  } catch {
    return null;
  }
}

/** True while the process named by pid and start time runs (a zombie does not count). */
export function running(pid: number, startTime: string): boolean {
  const s = stat(pid);
  return s !== null && s.startTime === startTime && s.state !== 'Z';
}

/** Live (non-zombie) members of a process group. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    const s = stat(Number(entry));
    if (s && s.pgrp === pgid && s.state !== 'Z') {
      members.push(Number(entry));
    }
  }
  return members;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function alive(proc: Proc): boolean {
  return proc.child.exitCode === null && proc.child.signalCode === null;
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** One cluster's processes, recorded in `<dir>/pids` (a JSON line each). */
export class ProcessBook {
  private readonly procs = new Set<Proc>();
  /** The test process exits without the cluster closed: kill what it started, remove its directory. */
  private readonly onExit = () => {
    this.killAllSync();
    try {
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // left for the next run's sweep
    }
  };
  /** Interrupted (Ctrl-C, a runner stopping its workers): the same, then die of the same signal. */
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.onExit();
    this.release();
    if (process.listenerCount(signal) === 0) {
      process.kill(process.pid, signal);
    }
  };

  constructor(readonly dir: string) {
    const me = stat(process.pid);
    writeFileSync(
      path.join(dir, 'owner.json'),
      JSON.stringify({ pid: process.pid, startTime: me?.startTime }),
    );
    process.on('exit', this.onExit);
    for (const signal of SIGNALS) {
      process.once(signal, this.onSignal);
    }
  }

  /**
   * Starts `command` with stdout and stderr to `logFd` (a file: nothing to drain). `group`: in a process group
   * of its own (setsid), killed as a whole. `user`: run as that uid/gid (postgres refuses to run as root); the
   * command is exec'd directly, so the pid is the command's own, not a wrapper's (as `runuser` would be).
   */
  spawn(
    name: string,
    command: string,
    args: string[],
    options: {
      env: NodeJS.ProcessEnv;
      logFd: number;
      cwd?: string;
      group?: boolean;
      user?: { uid: number; gid: number };
    },
  ): Proc {
    const child = spawn(command, args, {
      env: options.env,
      cwd: options.cwd,
      stdio: ['ignore', options.logFd, options.logFd],
      detached: options.group ?? false,
      ...(options.user ?? {}),
    });
    if (child.pid === undefined) {
      throw new Error(`could not start ${name} (${command})`);
    }
    const pid = child.pid;
    const exited = new Promise<Exit>((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal }));
      child.on('error', () => resolve({ code: null, signal: null }));
    });
    const proc: Proc = {
      name,
      pid,
      startTime: stat(pid)?.startTime ?? '',
      group: options.group ?? false,
      child,
      exited,
    };
    this.procs.add(proc);
    void exited.then(() => this.procs.delete(proc));
    appendFileSync(
      path.join(this.dir, 'pids'),
      JSON.stringify({ name, pid, startTime: proc.startTime, group: proc.group }) + '\n',
    );
    return proc;
  }

  /**
   * Sends `signal` and waits for the exit (for a group leader, until every member has gone); SIGKILL (to the
   * whole group) past `graceMs`.
   */
  async signal(proc: Proc, signal: NodeJS.Signals, graceMs = 30_000): Promise<Stopped> {
    const started = performance.now();
    if (!alive(proc)) {
      const exit = await proc.exited;
      return { ...exit, ms: 0, forced: false };
    }
    signalQuietly(proc.group && signal === 'SIGKILL' ? -proc.pid : proc.pid, signal);
    let forced = false;
    const timeout = sleep(graceMs).then(() => 'timeout' as const);
    if ((await Promise.race([proc.exited, timeout])) === 'timeout' && alive(proc)) {
      forced = true;
      signalQuietly(proc.group ? -proc.pid : proc.pid, 'SIGKILL');
    }
    const exit = await proc.exited;
    if (proc.group) {
      // The postmaster's backends leave on their own when it exits; after a SIGKILL they are killed with it.
      const deadline = performance.now() + graceMs;
      while (groupMembers(proc.pid).length > 0) {
        if (performance.now() > deadline + graceMs) {
          throw new Error(`${proc.name}: processes of group ${proc.pid} still run after SIGKILL`);
        }
        if (performance.now() > deadline) {
          signalQuietly(-proc.pid, 'SIGKILL');
          forced = true;
        }
        await sleep(20);
      }
    }
    return { ...exit, ms: Math.round(performance.now() - started), forced };
  }

  /** SIGTERM to everything still running, SIGKILL past `graceMs`. */
  async stopAll(graceMs = 10_000): Promise<void> {
    await Promise.all([...this.procs].map((proc) => this.signal(proc, 'SIGTERM', graceMs)));
  }

  /** Last resort (process exit): SIGKILL whatever this book started and still runs. */
  killAllSync(): void {
    for (const proc of this.procs) {
      if (running(proc.pid, proc.startTime)) {
        signalQuietly(proc.group ? -proc.pid : proc.pid, 'SIGKILL');
      }
    }
  }

  /** Stops listening for the process's exit and signals (after `stopAll`). */
  release(): void {
    process.off('exit', this.onExit);
    for (const signal of SIGNALS) {
      process.off(signal, this.onSignal);
    }
  }
}

/**
 * Kills what cluster directories of dead test processes still list (SIGKILL, by pid and start time, the whole
 * group for a group leader) and removes those directories. A directory whose owner still runs (another suite on
 * this machine) is left alone. Returns what it did, one line per process killed or directory removed.
 */
export function sweepAbandoned(): string[] {
  const notes: string[] = [];
  if (!existsSync(CLUSTER_ROOT)) {
    return notes;
  }
  for (const name of readdirSync(CLUSTER_ROOT)) {
    const dir = path.join(CLUSTER_ROOT, name);
    let owner: { pid?: number; startTime?: string } = {};
    try {
      owner = JSON.parse(readFileSync(path.join(dir, 'owner.json'), 'utf8')) as typeof owner;
    } catch {
      // No owner file: a directory being created this moment (left alone), or one whose creation was cut short.
      if (Date.now() - statSync(dir).mtimeMs < 60_000) {
        continue;
      }
    }
    if (owner.pid !== undefined && owner.startTime !== undefined && running(owner.pid, owner.startTime)) {
      continue;
    }
    let lines: string[] = [];
    try {
      lines = readFileSync(path.join(dir, 'pids'), 'utf8').split('\n').filter(Boolean);
    } catch {
      // nothing was started
    }
    for (const line of lines) {
      const entry = JSON.parse(line) as { name: string; pid: number; startTime: string; group: boolean };
      if (running(entry.pid, entry.startTime)) {
        signalQuietly(entry.group ? -entry.pid : entry.pid, 'SIGKILL');
        notes.push(`killed ${entry.name} (pid ${entry.pid}) left by a dead test process`);
      }
    }
    rmSync(dir, { recursive: true, force: true });
    notes.push(`removed ${dir}`);
  }
  return notes;
}

export function ensureClusterRoot(): void {
  mkdirSync(CLUSTER_ROOT, { recursive: true, mode: 0o755 });
}
