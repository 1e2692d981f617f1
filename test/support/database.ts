import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * Each test file gets a database of its own: a fresh Postgres database when DATABASE_URL is set (CI), or an
 * in-memory PGlite otherwise (a fresh clone with `npm test` alone).
 */
export async function freshDatabaseEnv(): Promise<{
  env: Record<string, string>;
  drop: () => Promise<void>;
}> {
  const base = process.env.DATABASE_URL;
  if (!base) {
    return { env: { PGLITE_DATA_DIR: 'memory://' }, drop: async () => undefined };
  }
  const name = `conflux_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    env: { DATABASE_URL: url.toString() },
    drop: async () => {
      const client = new pg.Client({ connectionString: base });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await client.end();
    },
  };
}
