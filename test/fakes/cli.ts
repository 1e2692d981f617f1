import { listenFailure } from '../../src/config/startup.js';
import { startFakes, type Fakes } from './index.js';

/**
 * `npm run fakes`: the five fake providers on local ports (default 4100–4104) and a fake Stripe (4105), so the
 * gateway can run end to end on one machine. Prints the environment to start the gateway with.
 */
const basePort = Number(process.env.FAKES_PORT ?? 4100);
let fakes: Fakes;
try {
  fakes = await startFakes(basePort);
} catch (error) {
  const port = (error as { port?: number }).port ?? basePort;
  const line = listenFailure(error, 'FAKES_PORT', port, '127.0.0.1');
  if (line === undefined) {
    throw error;
  }
  // The fakes take six consecutive ports from FAKES_PORT: one line, no stack trace.
  process.stderr.write(`${line} (The fakes use ports ${basePort}–${basePort + 5}.)\n`);
  process.exit(1);
}
process.stdout.write(
  'Fake providers and a fake Stripe are listening. Start the gateway against them with:\n\n',
);
process.stdout.write(
  Object.entries(fakes.env)
    .map(([name, value]) => `${name}=${value}`)
    .join(' \\\n') + ' \\\nnpm start\n\n(Ctrl-C stops the fakes.)\n',
);
const stop = () => {
  void fakes.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
