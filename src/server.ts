import { Logger } from '@nestjs/common';
import pino from 'pino';
import { AccountsService } from './accounts/accounts.service.js';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from './app.js';
import { warmTokenizer } from './common/tokens.js';
import type { Config } from './config/config.js';
import { listenFailure, mailNotice, startupWarnings } from './config/startup.js';
import { Lifecycle } from './ops/lifecycle.service.js';

/** Builds the app on `config`, listens, and drains on SIGTERM/SIGINT (see main.ts for the entry point). */
export async function run(config: Config): Promise<void> {
  // Log lines are written asynchronously (a request never waits on stdout), and flushed when the process exits.
  const logStream = pino.destination({ dest: 1, sync: false });
  process.on('exit', () => logStream.flushSync());
  const app = await createApp(config, { logStream });
  const logger = new Logger('Main');
  const accounts = app.get(AccountsService);
  await accounts.ensureAdmin();
  try {
    await app.listen(config.port, config.host);
  } catch (error) {
    const line = listenFailure(error, 'PORT', config.port, config.host);
    if (line === undefined) {
      throw error;
    }
    // A setting to change, not a bug: one line, no stack trace.
    process.stderr.write(`${line}\n`);
    await app.close().catch(() => undefined);
    process.exit(1);
  }
  drainOnStop(app, logger);
  setTimeout(warmTokenizer, 100).unref();
  const url = config.publicUrl;
  logger.log(`Conflux Router listening on ${url} (database: ${config.database.kind}, docs: ${url}/docs)`);
  for (const warning of startupWarnings(config)) {
    logger.warn(warning);
  }
  const mail = mailNotice(config);
  if (mail !== undefined) {
    logger.log(mail);
  }
  if ((await accounts.countAccounts()) === 0) {
    process.stdout.write(firstStartHint(url));
  }
}

/**
 * SIGTERM/SIGINT: readiness turns 503 and new requests are refused at once; requests in flight finish (streams
 * included) for up to SHUTDOWN_GRACE_MS, the rest are stopped with an error frame; every one is settled; then the
 * pools close and the process exits 0. A second signal exits at once.
 */
function drainOnStop(app: NestFastifyApplication, logger: Logger): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      process.exit(1);
    }
    stopping = true;
    logger.log(`${signal}: draining, then stopping`);
    try {
      await app.get(Lifecycle).drain();
      await app.close();
      logger.log('stopped: every request in flight was answered and settled');
      process.exit(0);
    } catch (error) {
      logger.error(`could not stop cleanly: ${(error as Error).message}`);
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

function firstStartHint(url: string): string {
  return `
No account exists yet. Open ${url} to sign up in the dashboard, or make your first request in three steps:

  1. Create an account (Free plan, 500 credits) and keep its session token:
     TOKEN=$(curl -s ${url}/auth/signup -H 'content-type: application/json' \\
       -d '{"email":"you@example.com","password":"a-long-password"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).token')

  2. Create an API key (the raw key is shown once):
     KEY=$(curl -s ${url}/v1/keys -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
       -d '{"name":"first key","kind":"test"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).key')

  3. Call the gateway with it (a test key answers with a mock, free of charge):
     curl ${url}/v1/chat/completions -H "authorization: Bearer $KEY" -H 'content-type: application/json' \\
       -d '{"model":"gpt-6-luna","messages":[{"role":"user","content":"Hello!"}]}'

`;
}
