import {
  appendFileSync,
  chmodSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { startFakes, type Fakes } from '../fakes/index.js';
import { alive, CLUSTER_ROOT, ensureClusterRoot, ProcessBook, type Proc, type Stopped } from './processes.js';
import { baseEnv, freePort, PostgresServer, RedisServer, sleep, tail } from './services.js';

/**
 * A cluster of gateway instances as separate processes (`node dist/src/main.js`, built once by the global set-up),
 * each on its own loopback port, sharing the suite's own PostgreSQL and Redis (started in a temporary directory)
 * and the fake providers (in the test process). Every process is stopped by pid in `close()` and on exit.
 */

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const GATEWAY_MAIN = path.join(ROOT, 'dist/src/main.js');

/** Shared by every instance: a session signed by one is valid on all. */
export const JWT_SECRET = 'cluster-suite-jwt-secret-cluster-suite-0123';

export interface ClusterOptions {
  /** Gateway instances (3). */
  instances?: number;
  /** RATE_LIMIT_RPM of every instance (60, the product's default). */
  rateLimitRpm?: number;
  /** More environment for every instance. */
  env?: Record<string, string>;
  /** More environment for instance i. */
  instanceEnv?: (i: number) => Record<string, string>;
}

interface Instance {
  index: number;
  port: number;
  logFile: string;
  env: NodeJS.ProcessEnv;
  proc?: Proc;
  starts: number;
  /** performance.now() when its current process answered ready. */
  readyAt?: number;
}

/**
 * Crashes of today's code at an instance's start, reported and to be fixed in src/, that the harness answers by
 * starting the instance again (noted each time) so that the scenarios test what they are about. Remove an entry
 * once its fix is in: the crash then fails the suite like any other.
 */
const KNOWN_START_CRASHES = [
  {
    // ioredis ≥ 5.8.2 (redis/ioredis#2037, fixed in 6.0): a SUBSCRIBE sent while the connection is still in its
    // handshake puts it in subscriber mode before the ready check's INFO, which then throws, uncaught. RedisService
    // subscribes (KeysService.onModuleInit) on a subscriber connection that may not be ready yet.
    signature: 'Connection in subscriber mode, only subscriber commands may be used',
    issue: 'ioredis subscriber ready-check race at start, redis/ioredis#2037',
  },
];

/** The known start crashes met in this test process (each is also printed when it happens). */
export const knownStartCrashes: string[] = [];

/** Prints a line of what the suite saw, prefixed so it can be grepped from the run's output. */
export function note(message: string): void {
  process.stdout.write(`[cluster] ${message}\n`);
}

export class Cluster {
  readonly fakes: Fakes;
  readonly postgres: PostgresServer;
  readonly redis: RedisServer;
  /** A small pool on the suite's Postgres, for assertions (balances, ledger, usage events, leases). */
  readonly db: pg.Pool;
  readonly dir: string;
  private readonly book: ProcessBook;
  private readonly instances: Instance[];
  private closed = false;

  private constructor(parts: {
    dir: string;
    book: ProcessBook;
    fakes: Fakes;
    postgres: PostgresServer;
    redis: RedisServer;
    db: pg.Pool;
    instances: Instance[];
  }) {
    this.dir = parts.dir;
    this.book = parts.book;
    this.fakes = parts.fakes;
    this.postgres = parts.postgres;
    this.redis = parts.redis;
    this.db = parts.db;
    this.instances = parts.instances;
  }

  /** Postgres, Redis, the fakes and N instances, all ready; whatever started is stopped again on failure. */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    if (!existsSync(GATEWAY_MAIN)) {
      throw new Error(`${GATEWAY_MAIN} is missing: the global set-up builds it (npm run build)`);
    }
    const started = performance.now();
    ensureClusterRoot();
    const dir = mkdtempSync(path.join(CLUSTER_ROOT, `${process.pid}-`));
    chmodSync(dir, 0o755); // postgres (another user when we are root) reaches its directory inside
    const book = new ProcessBook(dir);
    let fakes: Fakes | undefined;
    let db: pg.Pool | undefined;
    try {
      // all settled before going on: on a failure, nothing is left starting behind the clean-up
      const [pgStart, redisStart, fakesStart] = await Promise.allSettled([
        PostgresServer.create(book, dir),
        RedisServer.create(book, dir),
        startFakes(),
      ]);
      fakes = fakesStart.status === 'fulfilled' ? fakesStart.value : undefined;
      for (const result of [pgStart, redisStart, fakesStart]) {
        if (result.status === 'rejected') {
          throw result.reason;
        }
      }
      const postgres = (pgStart as PromiseFulfilledResult<PostgresServer>).value;
      const redis = (redisStart as PromiseFulfilledResult<RedisServer>).value;
      const fakesEnv = (fakesStart as PromiseFulfilledResult<Fakes>).value.env;
      const servicesMs = performance.now() - started;
      db = new pg.Pool({ connectionString: postgres.url, max: 4 });
      db.on('error', () => undefined); // idle clients cut when the suite stops its Postgres
      const count = options.instances ?? 3;
      const instances: Instance[] = [];
      for (let index = 0; index < count; index++) {
        const port = await freePort();
        instances.push({
          index,
          port,
          starts: 0,
          logFile: path.join(dir, `gateway-${index}.log`),
          env: baseEnv(dir, {
            HOST: '127.0.0.1',
            PORT: String(port),
            LOG_LEVEL: 'info',
            DATABASE_URL: postgres.url,
            REDIS_URL: redis.url,
            JWT_SECRET,
            RATE_LIMIT_RPM: String(options.rateLimitRpm ?? 60),
            // the suite signs up many accounts from one address, and sends bursts on one key
            AUTH_RATE_LIMIT_RPM: '100000',
            KEY_MAX_CONCURRENT: '100000',
            // each instance's own journal directory (used while Redis is down)
            JOURNAL_DIR: path.join(dir, `journal-${index}`),
            ...fakesEnv,
            ...options.env,
            ...options.instanceEnv?.(index),
          }),
        });
      }
      const cluster = new Cluster({
        dir,
        book,
        fakes: (fakesStart as PromiseFulfilledResult<Fakes>).value,
        postgres,
        redis,
        db,
        instances,
      });
      await Promise.all(instances.map((instance) => cluster.startInstance(instance)));
      note(
        `cluster up in ${ms(performance.now() - started)} (postgres, redis, fakes ${ms(servicesMs)}; ` +
          `${count} instances on ports ${instances.map((i) => i.port).join(', ')}; dir ${dir})`,
      );
      return cluster;
    } catch (error) {
      await db?.end().catch(() => undefined);
      await fakes?.close().catch(() => undefined);
      await book.stopAll(5_000);
      book.release();
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  get size(): number {
    return this.instances.length;
  }

  private instance(i: number): Instance {
    const instance = this.instances[i];
    if (!instance) {
      throw new Error(`no instance ${i} (the cluster has ${this.instances.length})`);
    }
    return instance;
  }

  private spawn(instance: Instance, env: Record<string, string> = {}): void {
    instance.starts += 1;
    Object.assign(instance.env, env);
    appendFileSync(
      instance.logFile,
      `--- harness: start #${instance.starts} at ${new Date().toISOString()}\n`,
    );
    const fd = openSync(instance.logFile, 'a');
    try {
      instance.proc = this.book.spawn(
        `gateway ${instance.index} #${instance.starts}`,
        process.execPath,
        [GATEWAY_MAIN],
        { env: instance.env, logFd: fd, cwd: ROOT },
      );
    } finally {
      closeSync(fd);
    }
  }

  /** http://127.0.0.1:PORT of instance i (the same across restarts). */
  url(i: number): string {
    return `http://127.0.0.1:${this.instance(i).port}`;
  }

  pid(i: number): number | undefined {
    const proc = this.instance(i).proc;
    return proc && alive(proc) ? proc.pid : undefined;
  }

  alive(i: number): boolean {
    const proc = this.instance(i).proc;
    return proc !== undefined && alive(proc);
  }

  /** How long instance i's current process has been ready (ms). */
  uptime(i: number): number {
    const at = this.instance(i).readyAt;
    return at === undefined || !this.alive(i) ? 0 : performance.now() - at;
  }

  /** Everything instance i wrote (stdout and stderr, all its starts, each after a `--- harness: start` line). */
  logs(i: number): string {
    return readFileSync(this.instance(i).logFile, 'utf8');
  }

  /** Instance i's JSON log lines (pino), parsed; other lines are skipped. */
  logLines(i: number): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const line of this.logs(i).split('\n')) {
      if (line.startsWith('{')) {
        try {
          out.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // a line cut by a kill
        }
      }
    }
    return out;
  }

  /** Polls `GET /health/ready` until a 200; fails when the process exits or after `timeoutMs`. */
  async ready(i: number, timeoutMs = 90_000): Promise<number> {
    const instance = this.instance(i);
    const started = performance.now();
    const deadline = started + timeoutMs;
    let last = 'no answer';
    for (;;) {
      const proc = instance.proc;
      if (!proc || !alive(proc)) {
        throw new Error(
          `instance ${i} is not running (exit ${proc?.child.exitCode ?? proc?.child.signalCode})\n` +
            tail(instance.logFile),
        );
      }
      try {
        const res = await fetch(`${this.url(i)}/health/ready`, { signal: AbortSignal.timeout(5_000) });
        last = `${res.status} ${await res.text()}`;
        if (res.status === 200) {
          return Math.round(performance.now() - started);
        }
      } catch (error) {
        last = (error as Error).message;
      }
      if (performance.now() > deadline) {
        throw new Error(
          `instance ${i} not ready after ${timeoutMs} ms (last: ${last})\n${tail(instance.logFile)}`,
        );
      }
      await sleep(50);
    }
  }

  /** SIGTERM to instance i; resolves with its exit code and signal (SIGKILL past `graceMs`: `forced`). */
  sigterm(i: number, graceMs = 30_000): Promise<Stopped> {
    return this.signal(i, 'SIGTERM', graceMs);
  }

  sigkill(i: number): Promise<Stopped> {
    return this.signal(i, 'SIGKILL', 10_000);
  }

  private signal(i: number, signal: NodeJS.Signals, graceMs: number): Promise<Stopped> {
    const proc = this.instance(i).proc;
    if (!proc) {
      throw new Error(`instance ${i} was never started`);
    }
    return this.book.signal(proc, signal, graceMs);
  }

  /**
   * Stops instance i if it runs (SIGTERM, SIGKILL past 30 s) and starts it again on the same port, with `env`
   * added to its environment; resolves when it is ready.
   */
  async restart(i: number, env: Record<string, string> = {}): Promise<void> {
    const instance = this.instance(i);
    if (instance.proc && alive(instance.proc)) {
      await this.sigterm(i);
    }
    await this.startInstance(instance, env);
  }

  /**
   * Spawns the instance and waits until it is ready. An instance that exits during its start with a known,
   * reported crash of today's code (`KNOWN_START_CRASHES`) is noted and started again (at most twice); any other
   * exit before ready fails.
   */
  private async startInstance(instance: Instance, env: Record<string, string> = {}): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const mark = readFileSync(instance.logFile, { flag: 'a+' }).length;
      this.spawn(instance, env);
      try {
        await this.ready(instance.index);
        instance.readyAt = performance.now();
        return;
      } catch (error) {
        const log = readFileSync(instance.logFile, 'utf8').slice(mark);
        const known = KNOWN_START_CRASHES.find((k) => log.includes(k.signature));
        if (this.alive(instance.index) || !known || attempt >= 3) {
          throw error;
        }
        knownStartCrashes.push(`instance ${instance.index}: ${known.issue}`);
        note(
          `KNOWN ISSUE: instance ${instance.index} exited during its start (${known.issue}); ` +
            `starting it again (attempt ${attempt + 1} of 3)`,
        );
      }
    }
  }

  /** Stops every instance, the fakes, Redis and Postgres (by pid), and removes the directory. */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    const keep = process.env.CLUSTER_KEEP_DIR === '1';
    await Promise.all(
      this.instances.map((instance) =>
        instance.proc ? this.book.signal(instance.proc, 'SIGTERM', 15_000) : undefined,
      ),
    );
    await this.db.end().catch(() => undefined);
    await this.fakes.close().catch(() => undefined);
    await Promise.all([this.redis.stop(), this.postgres.stop()]);
    await this.book.stopAll(15_000); // anything else still running
    this.book.release();
    if (keep) {
      // out of CLUSTER_ROOT, where the sweep would remove it
      const kept = path.join(os.tmpdir(), `conflux-cluster-kept-${path.basename(this.dir)}`);
      renameSync(this.dir, kept);
      note(`kept ${kept}`);
    } else {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

export function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

/**
 * A cluster for one file's tests: started before them, closed after them. Call the returned function inside hooks
 * and tests only.
 */
export function useCluster(options: ClusterOptions = {}): () => Cluster {
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    cluster = await Cluster.start(options);
  });
  afterAll(async () => {
    await cluster?.close();
  });
  return () => {
    if (!cluster) {
      throw new Error('the cluster is not started (use it inside hooks and tests)');
    }
    return cluster;
  };
}
