import { spawnSync } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { alive, type Proc, type ProcessBook, type Stopped } from './processes.js';

/**
 * The suite's own PostgreSQL and Redis servers, in the cluster's temporary directory, on free loopback ports:
 * stopping or killing them touches no one else's database. Each can be stopped (the clean way), killed with
 * SIGKILL (a crash) and restarted on the same port with the same data.
 */

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const handedOut = new Set<number>();

/** A port free on 127.0.0.1 now, and never handed out before by this process (two servers never share one). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await anyFreePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The last `lines` lines of a log file (for error messages). */
export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return '';
  }
}

/** Children get a minimal environment: nothing of the caller's (DATABASE_URL, provider keys…) leaks in. */
export function baseEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', ...extra };
}

/** `bin` of the newest PostgreSQL under /usr/lib/postgresql (or `CLUSTER_PG_BIN`). */
export function postgresBinDir(): string {
  const override = process.env.CLUSTER_PG_BIN;
  if (override) {
    return override;
  }
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(path.join(base, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(`no PostgreSQL server under ${base} (set CLUSTER_PG_BIN to its bin directory)`);
  }
  return path.join(base, versions[0], 'bin');
}

/** Whom postgres runs as: the `postgres` user when this process is root (postgres refuses root), else us. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) {
    return undefined;
  }
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error('running as root, and there is no user "postgres" to run the suite\'s PostgreSQL as');
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

async function until<T>(
  what: string,
  timeoutMs: number,
  attempt: () => Promise<T | undefined>,
  gone?: () => string | undefined,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const dead = gone?.();
    if (dead !== undefined) {
      throw new Error(dead);
    }
    const value = await attempt();
    if (value !== undefined) {
      return value;
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(50);
  }
}

export class PostgresServer {
  private proc?: Proc;
  private starts = 0;
  readonly url: string;
  readonly logFile: string;
  private readonly dataDir: string;

  private constructor(
    private readonly book: ProcessBook,
    private readonly dir: string,
    readonly port: number,
    private readonly user: { uid: number; gid: number } | undefined,
  ) {
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    this.logFile = path.join(dir, 'postgres.log');
    this.dataDir = path.join(dir, 'data');
  }

  /** `initdb` in `<clusterDir>/pg` (owned by postgres when we are root), then starts the server. */
  static async create(book: ProcessBook, clusterDir: string): Promise<PostgresServer> {
    const dir = path.join(clusterDir, 'pg');
    mkdirSync(dir, { mode: 0o700 });
    const user = postgresUser();
    if (user) {
      chownSync(dir, user.uid, user.gid);
    }
    const bin = postgresBinDir();
    // --no-sync skips flushing initdb's own files only; the server runs with fsync on (durability is tested).
    const init = spawnSync(
      path.join(bin, 'initdb'),
      [
        '-D',
        path.join(dir, 'data'),
        '-U',
        'postgres',
        '--auth=trust',
        '--no-sync',
        '-E',
        'UTF8',
        '--locale=C',
      ],
      { cwd: dir, env: baseEnv(dir), encoding: 'utf8', timeout: 120_000, ...(user ?? {}) },
    );
    if (init.status !== 0) {
      throw new Error(`initdb failed (${init.status ?? init.signal}): ${init.stderr}${init.stdout}`);
    }
    const server = new PostgresServer(book, dir, await freePort(), user);
    await server.start();
    return server;
  }

  get pid(): number | undefined {
    return this.proc && alive(this.proc) ? this.proc.pid : undefined;
  }

  /** Starts the server on its port and data directory; resolves when it accepts a query. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.proc && alive(this.proc)) {
      throw new Error('postgres is already running');
    }
    this.starts += 1;
    const fd = openSync(this.logFile, 'a');
    try {
      this.proc = this.book.spawn(
        `postgres #${this.starts}`,
        path.join(postgresBinDir(), 'postgres'),
        [
          '-D',
          this.dataDir,
          '-p',
          String(this.port),
          '-k',
          this.dir,
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          'max_connections=200',
          '-c',
          'shared_buffers=32MB',
          '-c',
          'jit=off',
          '-c',
          'log_line_prefix=%m [%p] ',
        ],
        { env: baseEnv(this.dir), logFd: fd, cwd: this.dir, group: true, user: this.user },
      );
    } finally {
      closeSync(fd);
    }
    const proc = this.proc;
    await until(
      'postgres to accept queries',
      timeoutMs,
      async () => {
        const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 2_000 });
        client.on('error', () => undefined);
        try {
          await client.connect();
          await client.query('SELECT 1');
          return true;
        } catch {
          return undefined;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      () => (alive(proc) ? undefined : `postgres exited before it was ready:\n${tail(this.logFile)}`),
    );
  }

  /** Fast shutdown (SIGINT: sessions are cut, what was committed is on disk); SIGKILL past `graceMs`. */
  async stop(graceMs = 30_000): Promise<Stopped> {
    return this.proc ? this.book.signal(this.proc, 'SIGINT', graceMs) : notRunning();
  }

  /** A crash: SIGKILL to the postmaster and every backend (its process group). */
  async kill(): Promise<Stopped> {
    return this.proc ? this.book.signal(this.proc, 'SIGKILL') : notRunning();
  }

  /** Stops it (fast) when it runs, and starts it again on the same port and data directory. */
  async restart(): Promise<void> {
    if (this.proc && alive(this.proc)) {
      await this.stop();
    }
    await this.start();
  }

  logs(): string {
    return readFileSync(this.logFile, 'utf8');
  }
}

export class RedisServer {
  private proc?: Proc;
  private starts = 0;
  private readyAt?: number;
  readonly url: string;
  readonly logFile: string;

  private constructor(
    private readonly book: ProcessBook,
    private readonly dir: string,
    readonly port: number,
  ) {
    this.url = `redis://127.0.0.1:${port}`;
    this.logFile = path.join(dir, 'redis.log');
  }

  static async create(book: ProcessBook, clusterDir: string): Promise<RedisServer> {
    const dir = path.join(clusterDir, 'redis');
    mkdirSync(dir);
    const server = new RedisServer(book, dir, await freePort());
    await server.start();
    return server;
  }

  get pid(): number | undefined {
    return this.proc && alive(this.proc) ? this.proc.pid : undefined;
  }

  /** Starts redis-server (no persistence) on its port; resolves when it answers PING. */
  async start(timeoutMs = 20_000): Promise<void> {
    if (this.proc && alive(this.proc)) {
      throw new Error('redis is already running');
    }
    this.starts += 1;
    const fd = openSync(this.logFile, 'a');
    try {
      this.proc = this.book.spawn(
        `redis #${this.starts}`,
        'redis-server',
        [
          '--port',
          String(this.port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--daemonize',
          'no',
          '--dir',
          this.dir,
        ],
        { env: baseEnv(this.dir), logFd: fd, cwd: this.dir },
      );
    } finally {
      closeSync(fd);
    }
    const proc = this.proc;
    await until(
      'redis to answer PING',
      timeoutMs,
      () => this.ping(),
      () => (alive(proc) ? undefined : `redis exited before it was ready:\n${tail(this.logFile)}`),
    );
    this.readyAt = performance.now();
  }

  /** How long the server has been answering since its last start (ms; 0 when it is not running). */
  uptime(): number {
    return this.proc && alive(this.proc) && this.readyAt !== undefined ? performance.now() - this.readyAt : 0;
  }

  /** true when the server answers PING within a second; undefined otherwise. */
  ping(): Promise<true | undefined> {
    return new Promise((resolve) => {
      const socket = connect(this.port, '127.0.0.1');
      let answer = '';
      const done = (value: true | undefined) => {
        socket.destroy();
        resolve(value);
      };
      socket.setTimeout(1_000, () => done(undefined));
      socket.on('error', () => done(undefined));
      socket.on('connect', () => socket.write('PING\r\n'));
      socket.on('data', (chunk) => {
        answer += chunk.toString('utf8');
        if (answer.includes('\r\n')) {
          done(answer.startsWith('+PONG') ? true : undefined);
        }
      });
    });
  }

  /** SIGTERM: Redis shuts down (nothing is saved: no persistence); SIGKILL past `graceMs`. */
  async stop(graceMs = 15_000): Promise<Stopped> {
    return this.proc ? this.book.signal(this.proc, 'SIGTERM', graceMs) : notRunning();
  }

  async kill(): Promise<Stopped> {
    return this.proc ? this.book.signal(this.proc, 'SIGKILL') : notRunning();
  }

  /** Stops it when it runs and starts it again on the same port (empty: counters and subscriptions are gone). */
  async restart(): Promise<void> {
    if (this.proc && alive(this.proc)) {
      await this.stop();
    }
    await this.start();
  }

  logs(): string {
    return readFileSync(this.logFile, 'utf8');
  }
}

function notRunning(): Promise<Stopped> {
  return Promise.resolve({ code: null, signal: null, ms: 0, forced: false });
}
