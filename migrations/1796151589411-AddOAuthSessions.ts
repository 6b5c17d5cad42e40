import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddOAuthSessions1796151589411 implements MigrationInterface {
  name = 'AddOAuthSessions1796151589411';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "oauth_sessions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid NOT NULL, "billing_provider_id" uuid NOT NULL, "state_hash" character(64) NOT NULL, "status" character varying(16) NOT NULL DEFAULT 'pending', "provider_key" bytea, "enc_key_version" integer, "failure_reason" character varying(64), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "completed_at" TIMESTAMP WITH TIME ZONE, "redeemed_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "UQ_26bfb39818e120970d497b9aafc" UNIQUE ("state_hash"), CONSTRAINT "chk_oauth_sessions_key" CHECK (("status" = 'complete') = ("provider_key" IS NOT NULL AND "enc_key_version" IS NOT NULL)), CONSTRAINT "chk_oauth_sessions_status" CHECK ("status" IN ('pending', 'exchanging', 'complete', 'redeemed', 'expired', 'failed')), CONSTRAINT "PK_cd8faa9a0f7c3277bce095e9351" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_oauth_sessions_user" ON "oauth_sessions"  ("user_id") `);
    await queryRunner.query(
      `CREATE INDEX "idx_oauth_sessions_expires_at" ON "oauth_sessions"  ("expires_at") `,
    );
    await queryRunner.query(
      `ALTER TABLE "oauth_sessions" ADD CONSTRAINT "FK_1992ba22d6aa06fa5bd320a6fa9" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "oauth_sessions" ADD CONSTRAINT "FK_a1d09bddae5f17980463534266e" FOREIGN KEY ("billing_provider_id") REFERENCES "billing_providers"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "oauth_sessions" DROP CONSTRAINT "FK_a1d09bddae5f17980463534266e"`);
    await queryRunner.query(`ALTER TABLE "oauth_sessions" DROP CONSTRAINT "FK_1992ba22d6aa06fa5bd320a6fa9"`);
    await queryRunner.query(`DROP INDEX "public"."idx_oauth_sessions_expires_at"`);
    await queryRunner.query(`DROP INDEX "public"."idx_oauth_sessions_user"`);
    await queryRunner.query(`DROP TABLE "oauth_sessions"`);
  }
}
