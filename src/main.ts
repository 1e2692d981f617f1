import { ConfigError, loadConfig, type Config } from './config/config.js';

/**
 * The entry point: reads the configuration first, then loads the app. On the embedded database (PGlite) the
 * database starts before the app's modules are loaded, so its WebAssembly compiles on V8's background threads
 * while they load; the app's first connection waits for this same start (and reports its failure).
 */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  if (config.database.kind === 'pglite') {
    const { dataDir } = config.database;
    void import('./database/pglite-driver.js')
      .then(({ startPGlite }) => startPGlite(dataDir))
      .catch(() => undefined);
  }
  const { run } = await import('./server.js');
  await run(config);
}

void main();
