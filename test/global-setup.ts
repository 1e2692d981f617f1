import pg from 'pg';

/** With DATABASE_URL set (CI), check the server answers before any test file creates its database. */
export default async function setup(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    return;
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('SELECT 1');
  await client.end();
}
