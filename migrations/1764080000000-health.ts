import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Provider probe history (for routing, /v1/status and uptime) and the probe rounds claimed by instances. */
export class Health1764080000000 implements MigrationInterface {
  name = 'Health1764080000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE provider_health (
        id bigserial PRIMARY KEY,
        provider text NOT NULL,
        checked_at timestamptz NOT NULL DEFAULT now(),
        state text NOT NULL CHECK (state IN ('healthy', 'degraded', 'down')),
        http_status integer,
        latency_ms integer CHECK (latency_ms >= 0),
        error text
      )`);
    await q.query(`CREATE INDEX provider_health_provider_idx ON provider_health (provider, checked_at DESC)`);
    await q.query(`CREATE INDEX provider_health_checked_idx ON provider_health (checked_at)`);

    // One row per probe interval: the instance that inserts it runs that round, so probes are not multiplied.
    await q.query(`
      CREATE TABLE provider_health_rounds (
        slot bigint PRIMARY KEY,
        started_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE provider_health_rounds`);
    await q.query(`DROP TABLE provider_health`);
  }
}
