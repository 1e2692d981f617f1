import { listenFailure } from '../../src/config/startup.js';
import { startFakes, type Fakes } from './index.js';
import { SmtpCatcher } from './smtp.js';

/**
 * `npm run fakes`: the five fake providers on local ports (default 4100–4104), a fake Stripe (4105) and an SMTP
 * catcher (4106) that prints every mail, so the gateway can run end to end on one machine. Prints the environment
 * to start the gateway with.
 */
const basePort = Number(process.env.FAKES_PORT ?? 4100);
let fakes: Fakes;
const smtp = new SmtpCatcher();
try {
  fakes = await startFakes(basePort);
  await smtp.start(basePort + 6).catch(async (error: unknown) => {
    await fakes.close();
    throw error;
  });
} catch (error) {
  const port = (error as { port?: number }).port ?? basePort;
  const line = listenFailure(error, 'FAKES_PORT', port, '127.0.0.1');
  if (line === undefined) {
    throw error;
  }
  // The fakes take seven consecutive ports from FAKES_PORT: one line, no stack trace.
  process.stderr.write(`${line} (The fakes use ports ${basePort}–${basePort + 6}.)\n`);
  process.exit(1);
}
smtp.onMail((mail) => {
  // The catcher is the developer's own inbox: the whole mail is printed, links included.
  process.stdout.write(
    `\n--- mail to ${mail.to.join(', ')} from ${mail.from}\nSubject: ${mail.subject}\n\n${mail.text}\n---\n`,
  );
});
process.stdout.write(
  'Fake providers, a fake Stripe and an SMTP catcher are listening. Start the gateway against them with:\n\n',
);
process.stdout.write(
  Object.entries({ ...fakes.env, ...smtp.env })
    .map(([name, value]) => `${name}=${value}`)
    .join(' \\\n') + ' \\\nnpm start\n\n(Ctrl-C stops the fakes.)\n',
);
const stop = () => {
  void Promise.all([fakes.close(), smtp.close()]).then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
