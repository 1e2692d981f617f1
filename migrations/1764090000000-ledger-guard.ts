import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ledger refuses DELETE and TRUNCATE too (UPDATE already was): history goes only when its account is purged,
 * which removes the account row first (the cascade then finds no account).
 */
export class LedgerGuard1764090000000 implements MigrationInterface {
  name = 'LedgerGuard1764090000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION credit_ledger_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM accounts WHERE id = OLD.account_id) THEN
          RAISE EXCEPTION 'credit_ledger is append-only';
        END IF;
        RETURN OLD;
      END $$`);
    await q.query(`
      CREATE TRIGGER credit_ledger_no_delete BEFORE DELETE ON credit_ledger
      FOR EACH ROW EXECUTE FUNCTION credit_ledger_no_delete()`);
    await q.query(`
      CREATE TRIGGER credit_ledger_no_truncate BEFORE TRUNCATE ON credit_ledger
      FOR EACH STATEMENT EXECUTE FUNCTION credit_ledger_append_only()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER credit_ledger_no_truncate ON credit_ledger`);
    await q.query(`DROP TRIGGER credit_ledger_no_delete ON credit_ledger`);
    await q.query(`DROP FUNCTION credit_ledger_no_delete`);
  }
}
