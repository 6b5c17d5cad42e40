import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Events and their webhook deliveries (a transactional outbox, decision 0090). `events` is written in the
 * transaction of the change it describes, with one `webhook_deliveries` row per subscribed endpoint; the
 * delivery workers of every instance claim due rows (`FOR UPDATE SKIP LOCKED`). `dedup_key` makes an event
 * that must fire once per subject (a key's `expiring`) idempotent. An endpoint's signing secrets are
 * encrypted (`enc_key_version`, like credentials); deliveries keep the outcome, never a response body.
 */
export class AddWebhooks1796910000000 implements MigrationInterface {
  name = 'AddWebhooks1796910000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "webhook_endpoints" (
        "id" uuid PRIMARY KEY,
        "url" character varying(2048) NOT NULL,
        "events" text[] NOT NULL,
        "format" character varying(32) NOT NULL,
        "description" character varying(500),
        "enabled" boolean NOT NULL DEFAULT true,
        "secret_enc" bytea NOT NULL,
        "previous_secret_enc" bytea,
        "previous_secret_expires_at" TIMESTAMP WITH TIME ZONE,
        "enc_key_version" integer NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "chk_webhook_endpoints_format" CHECK ("format" IN ('standard-webhooks', 'set')),
        CONSTRAINT "chk_webhook_endpoints_events" CHECK (cardinality("events") > 0)
      )`);
    await queryRunner.query(`
      CREATE TABLE "events" (
        "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        "type" character varying(64) NOT NULL,
        "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "data" jsonb NOT NULL,
        "dedup_key" character varying(128),
        CONSTRAINT "uq_events_dedup_key" UNIQUE ("dedup_key")
      )`);
    await queryRunner.query(`
      CREATE TABLE "webhook_deliveries" (
        "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        "event_id" uuid NOT NULL REFERENCES "events"("id") ON DELETE CASCADE,
        "endpoint_id" uuid NOT NULL REFERENCES "webhook_endpoints"("id") ON DELETE CASCADE,
        "status" character varying(16) NOT NULL DEFAULT 'pending',
        "attempt" integer NOT NULL DEFAULT 0,
        "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "last_attempt_at" TIMESTAMP WITH TIME ZONE,
        "response_status" integer,
        "duration_ms" integer,
        "last_error" character varying(32),
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "uq_webhook_deliveries_event_endpoint" UNIQUE ("event_id", "endpoint_id"),
        CONSTRAINT "chk_webhook_deliveries_status" CHECK ("status" IN ('pending', 'delivered', 'failed'))
      )`);
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_deliveries_due" ON "webhook_deliveries" ("next_attempt_at") WHERE "status" = 'pending'`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_deliveries_endpoint" ON "webhook_deliveries" ("endpoint_id", "created_at" DESC)`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_deliveries_event" ON "webhook_deliveries" ("event_id")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "webhook_deliveries"`);
    await queryRunner.query(`DROP TABLE "events"`);
    await queryRunner.query(`DROP TABLE "webhook_endpoints"`);
  }
}
