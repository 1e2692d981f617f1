import type { DataSource } from 'typeorm';

/** The part of a `pg` pooled client a prepared read uses. */
interface PooledClient {
  query(config: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: unknown[] }>;
  release(error?: Error | boolean): void;
}

interface Pool {
  connect(): Promise<PooledClient>;
}

/**
 * Settings of a heavy read, for its transaction only:
 * - no JIT: Postgres would JIT-compile a read with many aggregates (its cost estimate passes `jit_above_cost`),
 *   about 300 ms of compiling for a query that runs in a few;
 * - always a custom plan: its filters are written `($n IS NULL OR …)`, folded away once the values are known; a
 *   generic plan, which Postgres may choose after five executions, cannot prune the partitions or the unused
 *   filters (measured at 1.7 s instead of 17 ms on the usage bench's grouped read);
 * - no parallel workers: starting them took 50 ms, for parts that run in 5.
 */
const READ_SETTINGS = [
  'BEGIN READ ONLY',
  'SET LOCAL jit = off',
  'SET LOCAL plan_cache_mode = force_custom_plan',
  'SET LOCAL max_parallel_workers_per_gather = 0',
].join('; ');

/**
 * Runs a read-only statement whose text is one of a few fixed shapes. On Postgres it is a named prepared
 * statement, parsed once per pooled connection: for the grouped usage reads, parsing and analysing their text
 * took about 13 ms of the 37 a read took. `name` must always come with the same `text`; the number of names is
 * the number of shapes, so what each connection keeps is bounded. On PGlite (one in-process connection, no
 * prepared statements through its driver) the same text is run as a plain query.
 */
export async function preparedRead<T>(
  dataSource: DataSource,
  name: string,
  text: string,
  values: unknown[],
): Promise<T[]> {
  // PGlite comes as a driver object of its own (see dataSourceOptions); `pg` is TypeORM's own driver
  if ('driver' in dataSource.options && dataSource.options.driver) {
    return dataSource.transaction(async (m) => {
      await m.query(`SET LOCAL jit = off`);
      return (await m.query(text, values)) as T[];
    });
  }
  const client = await (dataSource.driver as unknown as { master: Pool }).master.connect();
  try {
    await client.query({ text: READ_SETTINGS });
    const result = await client.query({ name, text, values });
    await client.query({ text: 'COMMIT' });
    client.release();
    return detached(result.rows as T[]);
  } catch (error) {
    // a connection that failed mid-transaction is not given back to the pool: it may still be in it
    client.release(error instanceof Error ? error : true);
    throw error;
  }
}

/**
 * The rows of a `pg` result in an array of their own, the result's own array emptied. Measured on the usage
 * bench's grouped read (546 rows): while `pg`'s array held them, each of the process's young-generation collections
 * copied and promoted about 2 MB and took 10–12 ms, on every request that met one; with the array emptied, 0.2 MB
 * and 1.5 ms. (The rows stay reachable from an array the collector treats as old, until the next full collection.)
 */
export function detached<T>(rows: T[]): T[] {
  const own = rows.slice();
  rows.length = 0;
  return own;
}
