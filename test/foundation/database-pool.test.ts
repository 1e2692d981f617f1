import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, signup, startApp, type TestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';

/**
 * A stalled database must not pile up requests: a request that cannot get a connection within
 * DATABASE_CONNECT_TIMEOUT_MS is a 503 with retry-after, and is answered, instead of waiting for as long as the
 * database stalls. (Postgres only: the embedded PGlite has no pool.)
 */
describe.skipIf(!process.env.DATABASE_URL)('a database connection pool that is exhausted', () => {
  let t: TestApp;
  let locker: pg.Client;

  beforeAll(async () => {
    t = await startApp({ DATABASE_POOL_SIZE: '2', DATABASE_CONNECT_TIMEOUT_MS: '300' });
    if (t.config.database.kind !== 'postgres') {
      throw new Error('expected Postgres');
    }
    locker = new pg.Client({ connectionString: t.config.database.url });
    await locker.connect();
  });

  afterAll(async () => {
    await locker.end().catch(() => undefined);
    await t.close();
  });

  it('answers 503 service_unavailable with retry-after once the wait for a connection passes the timeout', async () => {
    const { token } = await signup(t);
    // Another client locks the keys table: both of the app's connections wait on the lock, each with a request.
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
    const stuck = [1, 2].map(() => call(t, 'GET', '/v1/keys', undefined, token));
    await waitFor(async () => {
      const { rows } = await locker.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      return rows[0]!.n >= 2;
    }, 10_000);
    const started = performance.now();
    const waited = await call(t, 'GET', '/v1/keys', undefined, token);
    const ms = performance.now() - started;
    expect(waited.status).toBe(503);
    expect(waited.body.error).toMatchObject({ code: 'service_unavailable' });
    expect(waited.headers.get('retry-after')).not.toBeNull();
    expect(ms).toBeLessThan(5_000);
    // The lock goes: the request that waited on it is answered, and the app serves again.
    await locker.query('COMMIT');
    expect((await Promise.all(stuck)).map((r) => r.status)).toEqual([200, 200]);
    expect((await call(t, 'GET', '/v1/keys', undefined, token)).status).toBe(200);
  });
});
