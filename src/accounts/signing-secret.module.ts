import { randomBytes } from 'node:crypto';
import { Global, Logger, Module } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { SigningSecret } from '../common/signing-secret.js';
import { CONFIG, type Config } from '../config/config.js';

const NAME = 'session_signing';

/**
 * `JWT_SECRET` when set; otherwise the secret in the database, created by the first instance that starts. Insert
 * if absent, then read: instances starting together all read the one row that won.
 */
async function loadSigningSecret(dataSource: DataSource, config: Config): Promise<SigningSecret> {
  if (config.auth.jwtSecret !== undefined) {
    return new SigningSecret(config.auth.jwtSecret);
  }
  const inserted = (await dataSource.query(
    `INSERT INTO app_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING name`,
    [NAME, randomBytes(32).toString('hex')],
  )) as unknown[];
  const rows = (await dataSource.query(`SELECT value FROM app_secrets WHERE name = $1`, [NAME])) as Array<{
    value: string;
  }>;
  if (inserted.length > 0) {
    new Logger('SigningSecret').log(
      'JWT_SECRET is not set: generated a session signing secret and kept it in the database (shared by every instance)',
    );
  }
  return new SigningSecret(rows[0].value);
}

@Global()
@Module({
  providers: [
    {
      provide: SigningSecret,
      inject: [getDataSourceToken(), CONFIG],
      useFactory: loadSigningSecret,
    },
  ],
  exports: [SigningSecret],
})
export class SigningSecretModule {}
