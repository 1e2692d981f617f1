import { PGliteDriver } from 'typeorm-pglite';
import { PGlitePool } from 'typeorm-pglite/dist/pglite-pool.js';

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
    return previous.then(() => super.connect((error, client) => callback(error, client, once(release))));
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
  new PGliteDriver({ dataDir }); // registers the options of the process-wide PGlite instance
  return { Pool: ExclusivePGlitePool };
}
