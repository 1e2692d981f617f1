import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// `npm run test:browser`: the dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core;
// no browser is downloaded). `npm run build:web` runs first, so the app serves the current bundle from dist/web.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    include: ['test/browser/**/*.browser.ts'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 180_000,
    hookTimeout: 120_000,
  },
});
