import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sweepAbandoned } from './processes.js';
import { postgresBinDir } from './services.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Once per `npm run test:cluster`: checks the servers the suite starts are installed, clears what a test process
 * that died may have left (its processes, by pid and start time, and its directory), and builds the gateway the
 * clusters run (`node dist/src/main.js`). The teardown clears the same way after the run.
 */
export default function setup(): () => void {
  for (const tool of ['initdb', 'postgres']) {
    const file = path.join(postgresBinDir(), tool);
    if (!existsSync(file)) {
      throw new Error(`the cluster suite needs ${file}`);
    }
  }
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error('the cluster suite needs redis-server on the PATH');
  }
  report(sweepAbandoned());
  const started = performance.now();
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit', timeout: 300_000 });
  if (build.status !== 0) {
    throw new Error(`npm run build failed (${build.status ?? build.signal})`);
  }
  process.stdout.write(`[cluster] built in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return () => report(sweepAbandoned());
}

function report(notes: string[]): void {
  for (const line of notes) {
    process.stdout.write(`[cluster] sweep: ${line}\n`);
  }
}
