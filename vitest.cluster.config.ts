import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// `npm run test:cluster`: the multi-instance fault suite (test/cluster/). Each file starts its own cluster (its own
// Postgres, Redis, fakes and gateway processes), so files run one after another; every wait is bounded.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    include: ['test/cluster/**/*.cluster.ts'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 180_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    globalSetup: ['test/cluster/global-setup.ts'],
  },
});
