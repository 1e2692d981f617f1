import { DataSource, type DataSourceOptions } from 'typeorm';
import { Account } from '../accounts/account.entity.js';
import { LedgerEntry } from '../billing/ledger-entry.entity.js';
import type { Config } from '../config/config.js';
import { ApiKey } from '../keys/api-key.entity.js';
import { MIGRATIONS } from '../../migrations/index.js';

export const ENTITIES = [Account, ApiKey, LedgerEntry];

/**
 * Postgres through `pg` when DATABASE_URL is set, otherwise the embedded PGlite. Schema only by migrations.
 * Each driver is loaded only when it is the one configured.
 */
export async function dataSourceOptions(config: Config): Promise<DataSourceOptions> {
  const common = {
    type: 'postgres' as const,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    synchronize: false,
    migrationsRun: false,
    // Ids come from gen_random_uuid() (core Postgres): PGlite has no uuid-ossp.
    installExtensions: false,
    logging: false,
  };
  if (config.database.kind === 'postgres') {
    const { url, poolSize, connectTimeoutMs } = config.database;
    // A query never waits without bound for a connection: past the timeout it fails as the database being out of
    // reach (503, retry-after), so a stalled database cannot pile up requests. TCP keep-alive notices a peer that
    // vanished without closing its connections.
    return {
      ...common,
      url,
      extra: { max: poolSize, connectionTimeoutMillis: connectTimeoutMs, keepAlive: true },
    };
  }
  const { pgliteDriver } = await import('./pglite-driver.js');
  return { ...common, driver: pgliteDriver(config.database.dataDir) };
}

/** A lock id shared by every instance, so concurrent starts apply migrations once. */
const MIGRATION_LOCK = 7_201_001;

/** Connects and applies pending migrations (at every start: instances of one version share one schema). */
export async function initializeDataSource(options: DataSourceOptions): Promise<DataSource> {
  const dataSource = new DataSource(options);
  await dataSource.initialize();
  guardConnections(dataSource);
  await runMigrations(dataSource, !('driver' in options && options.driver));
  return dataSource;
}

/**
 * A Postgres that shuts down or dies sends every connection an error; one a connection receives while no query
 * and no pool owns its listener (between TypeORM releasing it and the pool taking it back) would be an uncaught
 * 'error' event: the process would crash. Every pooled connection gets a listener of its own; the error still
 * reaches whatever query was running, and the pool drops the broken connection.
 */
function guardConnections(dataSource: DataSource): void {
  const pool = (
    dataSource.driver as { master?: { on?: (event: string, listener: (client: unknown) => void) => void } }
  ).master;
  pool?.on?.('connect', (client) => {
    (client as { on(event: 'error', listener: () => void): void }).on('error', () => undefined);
  });
}

export async function runMigrations(dataSource: DataSource, shared: boolean): Promise<string[]> {
  if (!(await anyPending(dataSource))) {
    return [];
  }
  if (!shared) {
    // PGlite belongs to this process alone, and its single connection cannot be held across the run.
    return (await dataSource.runMigrations({ transaction: 'each' })).map((m) => m.name);
  }
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    await runner.release();
  }
}

/**
 * Whether a migration of this build is not recorded yet. Most starts have none: answered with two indexed catalog
 * reads, where TypeORM's own check first looks the table up in information_schema (~75 ms on PGlite).
 */
async function anyPending(dataSource: DataSource): Promise<boolean> {
  const table = dataSource.options.migrationsTableName ?? 'migrations';
  const [{ exists }] = (await dataSource.query('SELECT to_regclass($1) IS NOT NULL AS "exists"', [
    table,
  ])) as {
    exists: boolean;
  }[];
  if (!exists) {
    return true;
  }
  const rows = (await dataSource.query(`SELECT "name" FROM "${table}"`)) as { name: string }[];
  const applied = new Set(rows.map((row) => row.name));
  return dataSource.migrations.some(
    (migration) => !applied.has(migration.name ?? migration.constructor.name),
  );
}
