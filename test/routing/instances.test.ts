import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakes, type Fakes } from '../fakes/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { providerStatus, sleep, status, waitFor } from './support.js';

const INTERVAL = 250;

/** Two instances on one database: one probe per interval between them, and both route on the shared result. */
describe('health with two instances', () => {
  let fakes: Fakes;
  let first: TestApp;
  let second: TestApp;
  beforeAll(async () => {
    fakes = await startFakes();
    const env = { ...fakes.env, HEALTH_PROBE_INTERVAL_MS: String(INTERVAL), HEALTH_PROBE_TIMEOUT_MS: '150' };
    first = await startApp(env);
    second = await startApp(env, { shareDatabaseWith: first });
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
    await fakes?.close();
  });

  it('probes each provider once per interval, not once per instance', async () => {
    await sleep(INTERVAL); // past the start-up rounds
    const before = fakes.all.map((f) => f.probeRequests().length);
    const started = Date.now();
    await sleep(INTERVAL * 6);
    const intervals = (Date.now() - started) / INTERVAL;
    fakes.all.forEach((fake, i) => {
      const probes = fake.probeRequests().length - before[i];
      // one instance alone would probe ~6 times here; two uncoordinated ones ~12
      expect(probes, fake.name).toBeGreaterThanOrEqual(Math.floor(intervals) - 2);
      expect(probes, fake.name).toBeLessThanOrEqual(Math.ceil(intervals) + 1);
    });
  });

  it('gives both instances the shared result', async () => {
    fakes.cerebras.setDown();
    try {
      for (const app of [first, second]) {
        await waitFor(
          async () => providerStatus(await status(app), 'cerebras').state === 'down',
          INTERVAL * 8,
          'cerebras down on both instances',
        );
      }
      const [a, b] = [
        providerStatus(await status(first), 'cerebras'),
        providerStatus(await status(second), 'cerebras'),
      ];
      expect(a.state).toBe('down');
      expect(b.state).toBe('down');
    } finally {
      fakes.cerebras.setDown(false);
    }
  });
});
