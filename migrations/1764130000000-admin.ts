import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The admin module's schema: session epochs (ending every session of an account), the deletion schedule and the
 * purge's tombstone (`deleted` status), provider drains shared by every instance, and the append-only audit log.
 */
export class Admin1764130000000 implements MigrationInterface {
  name = 'Admin1764130000000';

  async up(q: QueryRunner): Promise<void> {
    // A session token carries the epoch it was issued in; bumping the account's epoch ends every session at once.
    await q.query(`ALTER TABLE accounts ADD COLUMN session_epoch integer NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE accounts ADD COLUMN purge_after timestamptz`);
    await q.query(`ALTER TABLE accounts ADD COLUMN purged_at timestamptz`);
    await q.query(`ALTER TABLE accounts DROP CONSTRAINT accounts_status_check`);
    await q.query(
      `ALTER TABLE accounts ADD CONSTRAINT accounts_status_check
         CHECK (status IN ('active', 'suspended', 'pending_deletion', 'deleted'))`,
    );
    await q.query(
      `CREATE INDEX accounts_purge_idx ON accounts (purge_after) WHERE status = 'pending_deletion'`,
    );

    await q.query(`
      CREATE TABLE provider_drains (
        provider text PRIMARY KEY,
        drained_at timestamptz NOT NULL,
        reason text NOT NULL
      )`);

    // No foreign key to accounts: the log outlives a purged account (it names it by id only, never by email).
    await q.query(`
      CREATE TABLE audit_log (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL,
        actor_id uuid NOT NULL,
        actor_role text NOT NULL,
        action text NOT NULL,
        target_type text NOT NULL,
        target_id text NOT NULL,
        reason text,
        before jsonb,
        after jsonb,
        request_id text
      )`);
    await q.query(`CREATE INDEX audit_log_target_idx ON audit_log (target_id, id)`);
    await q.query(`CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id)`);
    await q.query(`
      CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_log is append-only';
      END $$`);
    await q.query(`
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`);
    await q.query(`
      CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_log`);
    await q.query(`DROP FUNCTION audit_log_append_only`);
    await q.query(`DROP TABLE provider_drains`);
    await q.query(`DROP INDEX accounts_purge_idx`);
    await q.query(`ALTER TABLE accounts DROP CONSTRAINT accounts_status_check`);
    await q.query(
      `ALTER TABLE accounts ADD CONSTRAINT accounts_status_check
         CHECK (status IN ('active', 'suspended', 'pending_deletion'))`,
    );
    await q.query(`ALTER TABLE accounts DROP COLUMN purged_at`);
    await q.query(`ALTER TABLE accounts DROP COLUMN purge_after`);
    await q.query(`ALTER TABLE accounts DROP COLUMN session_epoch`);
  }
}
