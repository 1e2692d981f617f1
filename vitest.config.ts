import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// SWC compiles the decorators with their metadata, which Nest's dependency injection reads.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    include: ['src/**/*.spec.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // CI's two cores also run the fakes and several apps at once: a test that fails once there is retried once,
    // so a broken behaviour still fails, but a load-induced timing slip does not block a landing.
    retry: process.env.CI ? 1 : 0,
    globalSetup: ['test/global-setup.ts'],
  },
});
