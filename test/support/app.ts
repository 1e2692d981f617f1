import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { createApp } from '../../src/app.js';
import type { Clock } from '../../src/common/clock.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { freshDatabaseEnv } from './database.js';

export interface TestApp {
  app: NestFastifyApplication;
  config: Config;
  url: string;
  /** Everything the app logged so far. */
  logs: () => string;
  db: DataSource;
  close: () => Promise<void>;
}

/** Environment every test app gets unless overridden: no real provider is ever configured. */
const BASE_ENV: Record<string, string> = {
  LOG_LEVEL: 'info',
  JWT_SECRET: 'test-secret-test-secret-test-secret-0123',
  KEY_LAST_USED_FLUSH_MS: '200',
  // Tests sign up many accounts from one address; one test checks the limit itself.
  AUTH_RATE_LIMIT_RPM: '10000',
};

/**
 * Starts the whole app on a free port, on its own database (unless `shareDatabaseWith` is given, for tests
 * of several instances). Redis is used when `REDIS_URL` is in `env`. With `clock` (a `ManualClock`), the app
 * decides by the time the test sets: breakers, probe rounds, key expiry, rate-limit windows, billing periods.
 *
 * `logs()` sees only the first app started in a process: nestjs-pino's root logger is process-wide. A test that
 * checks log lines starts one app per file (vitest gives each file its own process).
 */
export async function startApp(
  env: Record<string, string> = {},
  options: { shareDatabaseWith?: TestApp; clock?: Clock } = {},
): Promise<TestApp> {
  const database = options.shareDatabaseWith
    ? { env: databaseEnvOf(options.shareDatabaseWith.config), drop: async () => undefined }
    : await freshDatabaseEnv();
  // Each app writes its settlement journal in a directory of its own (never the repository's ./data).
  const journal = mkdtempSync(join(tmpdir(), 'conflux-journal-'));
  const config = loadConfig({
    ...BASE_ENV,
    JOURNAL_DIR: journal,
    ...database.env,
    PORT: '0',
    HOST: '127.0.0.1',
    ...env,
  });
  let captured = '';
  const logStream = new PassThrough();
  logStream.on('data', (chunk: Buffer) => (captured += chunk.toString('utf8')));
  const app = await createApp(config, { logStream, clock: options.clock });
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return {
    app,
    config,
    url: `http://127.0.0.1:${address.port}`,
    logs: () => captured,
    db: app.get<DataSource>(getDataSourceToken()),
    close: async () => {
      await app.close();
      await database.drop();
      rmSync(journal, { recursive: true, force: true });
    },
  };
}

function databaseEnvOf(config: Config): Record<string, string> {
  return config.database.kind === 'postgres'
    ? { DATABASE_URL: config.database.url }
    : { PGLITE_DATA_DIR: config.database.dataDir };
}

export interface Json {
  status: number;
  headers: Headers;
  body: any;
}

/** A JSON call: `call(t, 'POST', '/v1/keys', {name}, token)`. */
export async function call(
  t: Pick<TestApp, 'url'>,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
  headers: Record<string, string> = {},
): Promise<Json> {
  const res = await fetch(t.url + path, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

let counter = 0;

/** Signs up a fresh account; returns its session token and id. */
export async function signup(
  t: Pick<TestApp, 'url'>,
  email?: string,
): Promise<{ token: string; accountId: string; email: string }> {
  const address = email ?? `user${process.pid}-${Date.now()}-${counter++}@example.com`;
  const res = await call(t, 'POST', '/auth/signup', { email: address, password: 'a-long-password' });
  if (res.status !== 201) {
    throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return { token: res.body.token, accountId: res.body.account.id, email: address };
}

/** Creates a key for the session's account; returns the raw key and its public id. */
export async function createKey(
  t: Pick<TestApp, 'url'>,
  token: string,
  kind: 'live' | 'test' = 'live',
  extra: Record<string, unknown> = {},
): Promise<{ key: string; id: string }> {
  const res = await call(t, 'POST', '/v1/keys', { name: `${kind} key`, kind, ...extra }, token);
  if (res.status !== 201) {
    throw new Error(`key creation failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return { key: res.body.key, id: res.body.id };
}
