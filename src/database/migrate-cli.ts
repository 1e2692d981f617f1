import { DataSource } from 'typeorm';
import { loadConfig } from '../config/config.js';
import { dataSourceOptions, runMigrations } from './data-source.js';

/**
 * `run`: applies pending migrations to the configured database (the app also does this at start).
 * `generate NAME`: prints the SQL TypeORM would need to match the entities, to start a new migration by hand.
 */
async function main(): Promise<void> {
  const [mode = 'run', name = 'change'] = process.argv.slice(2);
  const config = loadConfig();
  const options = await dataSourceOptions(config);
  const dataSource = new DataSource(options);
  await dataSource.initialize();
  try {
    await runMigrations(dataSource, config.database.kind === 'postgres');
    if (mode === 'run') {
      process.stdout.write('migrations applied\n');
      return;
    }
    const sql = await dataSource.driver.createSchemaBuilder().log();
    if (sql.upQueries.length === 0) {
      process.stdout.write('the entities match the migrations: nothing to generate\n');
      return;
    }
    const stamp = Date.now();
    process.stdout.write(`// migrations/${stamp}-${name}.ts — review before committing\n`);
    for (const query of sql.upQueries) {
      process.stdout.write(`await q.query(${JSON.stringify(query.query)});\n`);
    }
  } finally {
    await dataSource.destroy();
  }
}

void main();
