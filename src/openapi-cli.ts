import { readFileSync, writeFileSync } from 'node:fs';
import { buildOpenApi, createApp } from './app.js';
import { loadConfig } from './config/config.js';

/**
 * `write`: regenerates the committed openapi.json from the app. `check`: fails when the committed file differs
 * from what the app generates (CI's drift check).
 */
const FILE = 'openapi.json';

export async function generateSpec(): Promise<string> {
  const app = await createApp(loadConfig({ PGLITE_DATA_DIR: 'memory://', LOG_LEVEL: 'silent' }));
  try {
    return `${JSON.stringify(buildOpenApi(app), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

async function main(): Promise<void> {
  const mode = process.argv[2] ?? 'write';
  const spec = await generateSpec();
  if (mode === 'check') {
    let committed = '';
    try {
      committed = readFileSync(FILE, 'utf8');
    } catch {
      // missing counts as drift
    }
    if (committed !== spec) {
      process.stderr.write(`${FILE} is out of date: run \`npm run openapi\` and commit the result.\n`);
      process.exit(1);
    }
    process.stdout.write(`${FILE} is up to date.\n`);
    return;
  }
  writeFileSync(FILE, spec);
  process.stdout.write(`wrote ${FILE}\n`);
}

if (process.argv[1]?.endsWith('openapi-cli.js')) {
  void main();
}
