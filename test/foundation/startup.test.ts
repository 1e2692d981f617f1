import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { listenFailure, startupWarnings } from '../../src/config/startup.js';
import { startFakes } from '../fakes/index.js';
import { startApp, type TestApp } from '../support/app.js';

/** Issue 12, item 6: a start-up says what it cannot do, and a busy port is one line naming the variable. */
describe('start-up messages', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(() => t.close());

  it('with no provider key, warns that live keys will get 503, and how to fix it', () => {
    const [warning, ...rest] = startupWarnings(loadConfig({}));
    expect(rest).toEqual([]);
    expect(warning).toContain('503');
    expect(warning).toContain('cf_live_');
    expect(warning).toContain('OPENAI_API_KEY');
    expect(warning).toContain('npm run fakes');
    // One provider is enough to serve live keys: nothing to warn about.
    expect(startupWarnings(loadConfig({ GROQ_API_KEY: 'gsk_x' }))).toEqual([]);
  });

  it('a port in use is one line naming PORT, without a stack trace', async () => {
    const port = Number(new URL(t.url).port);
    const second = await createApp(t.config);
    let line: string | undefined;
    try {
      await second.listen(port, '127.0.0.1');
    } catch (error) {
      line = listenFailure(error, 'PORT', port, '127.0.0.1');
    } finally {
      await second.close();
    }
    expect(line).toBe(
      `Port ${port} on 127.0.0.1 is already in use (another gateway, or \`npm run fakes\`, may be running). ` +
        'Stop it, or choose another port: PORT=<port>.',
    );
    expect(line).not.toContain('\n');
    // Anything else is no setting: it keeps its error (and stack).
    expect(listenFailure(new Error('boom'), 'PORT', port, '127.0.0.1')).toBeUndefined();
  });

  it('the fakes on a taken port reject (no unhandled error), close what they opened, and name FAKES_PORT', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    try {
      // The third fake's port is the taken one: the first two were open and must be closed again. (Another
      // process may hold one of the two below it: then that one is the port refused, and fewer were open.)
      const base = taken - 2;
      const error: unknown = await startFakes(base).then(
        (fakes) => fakes.close().then(() => undefined),
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'EADDRINUSE' });
      const refused = (error as { port: number }).port;
      expect(refused).toBeGreaterThanOrEqual(base);
      expect(refused).toBeLessThanOrEqual(taken);
      expect(listenFailure(error, 'FAKES_PORT', refused, '127.0.0.1')).toContain('FAKES_PORT=<port>');
      for (let port = base; port < refused; port++) {
        const again = createServer();
        await new Promise<void>((resolve, reject) => {
          again.once('error', reject);
          again.listen(port, '127.0.0.1', resolve);
        });
        await new Promise((resolve) => again.close(resolve));
      }
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
