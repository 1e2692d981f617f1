import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Accounts customers can live with: verified addresses, one free grant per address, single-use mail tokens
 * (verification, password reset), sessions that can be ended one by one, and the session signing secret kept in
 * the database when `JWT_SECRET` is not set.
 */
export class Accounts1764140000000 implements MigrationInterface {
  name = 'Accounts1764140000000';

  async up(q: QueryRunner): Promise<void> {
    // Accounts made before verification existed keep working as they did: they count as verified.
    await q.query(`ALTER TABLE accounts ADD COLUMN email_verified_at timestamptz`);
    await q.query(`UPDATE accounts SET email_verified_at = created_at`);

    // One free grant per normalised address (lower case, no +tag, no dots at Gmail), named by its SHA-256 only:
    // the row outlives a purged account without keeping its address (the purge clears its account id).
    await q.query(`
      CREATE TABLE free_grants (
        address_sha256 text PRIMARY KEY,
        account_id uuid,
        granted_at timestamptz NOT NULL
      )`);
    await q.query(`
      INSERT INTO free_grants (address_sha256, account_id, granted_at)
      SELECT DISTINCT ON (address) encode(sha256(convert_to(address, 'UTF8')), 'hex'), id, created_at
        FROM (
          SELECT id, created_at,
                 CASE WHEN split_part(lower(email), '@', 2) IN ('gmail.com', 'googlemail.com')
                      THEN replace(split_part(split_part(lower(email), '@', 1), '+', 1), '.', '') || '@gmail.com'
                      ELSE split_part(split_part(lower(email), '@', 1), '+', 1) || '@' || split_part(lower(email), '@', 2)
                 END AS address
            FROM accounts WHERE status <> 'deleted'
        ) s
       ORDER BY address, created_at`);

    // Mail tokens: only their SHA-256 is kept; each is used once, before it expires.
    await q.query(`
      CREATE TABLE account_tokens (
        id bigserial PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        purpose text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
        token_sha256 text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz
      )`);
    await q.query(
      `CREATE INDEX account_tokens_account_idx ON account_tokens (account_id, purpose, created_at)`,
    );

    // A session token names its row (the JWT's sid): ending a session is one UPDATE every instance sees at once.
    await q.query(`
      CREATE TABLE sessions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz
      )`);
    await q.query(`CREATE INDEX sessions_account_idx ON sessions (account_id)`);

    // Secrets generated at first start and shared by every instance (the session signing key).
    await q.query(`
      CREATE TABLE app_secrets (
        name text PRIMARY KEY,
        value text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE app_secrets`);
    await q.query(`DROP TABLE sessions`);
    await q.query(`DROP TABLE account_tokens`);
    await q.query(`DROP TABLE free_grants`);
    await q.query(`ALTER TABLE accounts DROP COLUMN email_verified_at`);
  }
}
