import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { getPGliteInstance, PGliteDriver } from 'typeorm-pglite';
import { PGlitePool } from 'typeorm-pglite/dist/pglite-pool.js';

const require = createRequire(import.meta.url);
/** The CommonJS build of PGlite: the one typeorm-pglite loads, so the process holds a single copy. */
const PGLITE_ENTRY = require.resolve('@electric-sql/pglite');
const { PGlite } = require(PGLITE_ENTRY) as { PGlite: { defaultStartParams: readonly string[] } };
type Embedded = Awaited<ReturnType<typeof getPGliteInstance>>;

/**
 * Postgres settings of the embedded database, passed as `-c` start parameters (they override postgresql.conf, so
 * they apply to data directories created before they were chosen). Postgres' defaults are sized for a server
 * with 100 connections; PGlite is one session in this process, and the gateway's tables are small.
 */
export const PGLITE_SETTINGS: Readonly<Record<string, string>> = {
  // Default 128MB. The buffer pool is allocated zero-filled in PGlite's WebAssembly heap at start, so the default
  // kept ~130 MiB more resident from the first second. 16MB holds the gateway's hot pages; other reads go through
  // the OS page cache.
  shared_buffers: '16MB',
  // Default 100. PGlite runs Postgres in single-user mode: one backend. Shared memory for locks and backend
  // slots is sized from this.
  max_connections: '1',
  // In single-user mode no checkpointer runs: a checkpoint happens only when the WAL reaches max_wal_size
  // (default 1GB) or at close. Bounding it bounds the WAL kept on disk and what a restart after a crash replays.
  max_wal_size: '64MB',
  min_wal_size: '32MB',
};

const START_PARAMS = [
  ...PGlite.defaultStartParams,
  ...Object.entries(PGLITE_SETTINGS).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
];

/**
 * A new data directory is initialised (initdb) in a child process. PGlite's initdb runs a second Postgres
 * instance and copies its whole heap; in-process, that memory stayed resident for the life of the gateway (a first
 * start idled at ~880 MiB, ~470 MiB more than a later start). The child exits and the memory goes with it.
 */
const INITDB_SCRIPT = `
const [entry, dataDir] = process.argv.slice(1);
require(entry).PGlite.create({ dataDir })
  .then((db) => db.close())
  .catch((error) => { console.error(error); process.exit(1); });
`;

function initdb(dataDir: string): Promise<void> {
  if (dataDir.startsWith('memory://') || existsSync(join(dataDir, 'PG_VERSION'))) {
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', INITDB_SCRIPT, PGLITE_ENTRY, dataDir], (error, _stdout, stderr) => {
      if (error) {
        reject(
          new Error(
            `could not create the embedded database in ${dataDir}: ${stderr.trim() || error.message}`,
          ),
        );
      } else {
        resolve();
      }
    });
  });
}

/** The process-wide PGlite instance being started (typeorm-pglite holds one per process), by data directory. */
let starting: { dataDir: string; instance: Promise<Embedded>; failed: boolean } | undefined;

/**
 * Starts the embedded database in `dataDir` (idempotent for the same directory). Every checkout and query of the
 * pool waits for it, so typeorm-pglite never starts a second instance while the first is still starting.
 */
export function startPGlite(dataDir: string): Promise<Embedded> {
  if (starting?.dataDir !== dataDir || starting.failed) {
    if (!dataDir.startsWith('memory://')) {
      mkdirSync(dataDir, { recursive: true });
    }
    new PGliteDriver({ dataDir, startParams: START_PARAMS }); // registers the options of the process-wide instance
    const entry = { dataDir, instance: initdb(dataDir).then(() => getPGliteInstance()), failed: false };
    // The error is reported by the connection that waits for the instance; a later start tries again.
    entry.instance.catch(() => (entry.failed = true));
    starting = entry;
    return entry.instance;
  }
  return starting.instance;
}

function started(): Promise<Embedded> {
  if (!starting) {
    throw new Error('the embedded database was not started');
  }
  return starting.instance;
}

/**
 * typeorm-pglite hands every query runner the same PGlite session, so two concurrent transactions would run
 * inside one another. PGlite is one connection: this pool makes each checkout exclusive (a pool of one), so a
 * transaction sees only its own statements, as on a real Postgres connection.
 */
class ExclusivePGlitePool extends PGlitePool {
  private tail: Promise<void> = Promise.resolve();

  override connect(callback: Parameters<PGlitePool['connect']>[0]): Promise<void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const previous = this.tail;
    this.tail = previous.then(() => held);
    return previous.then(async () => {
      try {
        await started();
      } catch (error) {
        release();
        callback(error, null, () => undefined);
        return;
      }
      return super.connect((error, client) => callback(error, client, once(release)));
    });
  }

  override async query(...args: Parameters<PGlitePool['query']>): ReturnType<PGlitePool['query']> {
    await started();
    return super.query(...args);
  }

  override end(callback: (error: unknown) => void): void {
    starting = undefined;
    super.end(callback);
  }
}

function once(fn: () => void): () => void {
  let called = false;
  return () => {
    if (!called) {
      called = true;
      fn();
    }
  };
}

/** The `driver` option for TypeORM's postgres dialect, backed by PGlite in `dataDir` (or `memory://`). */
export function pgliteDriver(dataDir: string): unknown {
  void startPGlite(dataDir);
  return { Pool: ExclusivePGlitePool };
}
