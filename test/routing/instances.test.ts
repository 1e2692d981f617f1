import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { startFakes, type Fakes } from '../fakes/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { probeRound, providerStatus, refreshSnapshot, status } from './support.js';

/** Longer than the suite runs: the schedulers never start a round; the test does, after moving the clocks. */
const INTERVAL = 60_000;

/** Two instances on one database: one probe per interval between them, and both route on the shared result. */
describe('health with two instances', () => {
  let fakes: Fakes;
  let first: TestApp;
  let second: TestApp;
  // Two machines' clocks, set to the same time (NTP) and moved together.
  const start = Date.now();
  const clocks = [new ManualClock(start), new ManualClock(start)];

  /** The next interval on both instances: each one's scheduler ticks; whichever claims the round probes. */
  async function nextInterval(): Promise<void> {
    for (const clock of clocks) {
      clock.advance(INTERVAL);
    }
    await Promise.all([probeRound(first), probeRound(second)]);
  }

  beforeAll(async () => {
    fakes = await startFakes();
    const env = { ...fakes.env, HEALTH_PROBE_INTERVAL_MS: String(INTERVAL) };
    first = await startApp(env, { clock: clocks[0] });
    second = await startApp(env, { clock: clocks[1], shareDatabaseWith: first });
    await Promise.all([probeRound(first), probeRound(second)]); // past the start-up rounds
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
    await fakes?.close();
  });

  it('probes each provider once per interval, not once per instance', async () => {
    const before = fakes.all.map((f) => f.probeRequests().length);
    for (let i = 0; i < 6; i++) {
      await nextInterval();
    }
    fakes.all.forEach((fake, i) => {
      // one instance alone would probe 6 times here; two uncoordinated ones 12
      expect(fake.probeRequests().length - before[i], fake.name).toBe(6);
    });
  });

  it('gives both instances the shared result', async () => {
    fakes.cerebras.setDown();
    try {
      await nextInterval();
      // the instance that did not probe reads the result on its next snapshot refresh
      await Promise.all([refreshSnapshot(first), refreshSnapshot(second)]);
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
