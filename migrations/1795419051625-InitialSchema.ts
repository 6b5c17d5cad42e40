import { type MigrationInterface, type QueryRunner } from 'typeorm';

export class InitialSchema1795419051625 implements MigrationInterface {
  name = 'InitialSchema1795419051625';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "billing_providers" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "slug" character varying(63) NOT NULL, "name" character varying(100) NOT NULL, "auth_url" character varying(2048) NOT NULL, "api_base" character varying(2048) NOT NULL, "enabled" boolean NOT NULL DEFAULT true, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_a7c8a8617d14308a2b9b20d9407" UNIQUE ("slug"), CONSTRAINT "PK_b9b8c2dd41b6a678799d93175fc" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "users" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "external_id" character varying(255) NOT NULL, "email" character varying(320), "name" character varying(200), "disabled_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_11fc776e0ca3573dc195670f636" UNIQUE ("external_id"), CONSTRAINT "PK_a3ffb1c0c8416b9fc6f907b7433" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "projects" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid NOT NULL, "name" character varying(100) NOT NULL, "is_default" boolean NOT NULL DEFAULT false, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_6271df0a7aed1d6c0691ce6ac50" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_projects_user_default" ON "projects"  ("user_id") WHERE is_default`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_projects_user_name" ON "projects"  ("user_id", "name") `,
    );
    await queryRunner.query(
      `CREATE TABLE "api_keys" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "key_id" character varying(64) NOT NULL, "key_hash" character(64) NOT NULL, "key_prefix" character varying(12) NOT NULL, "label" character varying(100), "user_id" uuid NOT NULL, "project_id" uuid NOT NULL, "billing_provider_id" uuid, "allowed_origins" text array NOT NULL DEFAULT '{}', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_used_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, "expires_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "UQ_587c54d5d82b3dfbfb59a81cb42" UNIQUE ("key_id"), CONSTRAINT "PK_5c8a79801b44bd27b79228e1dad" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_api_keys_project" ON "api_keys"  ("project_id") `);
    await queryRunner.query(
      `CREATE INDEX "idx_api_keys_user_created" ON "api_keys"  ("user_id", "created_at") `,
    );
    await queryRunner.query(
      `CREATE TABLE "audit_events" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "actor" character varying(300) NOT NULL, "action" character varying(64) NOT NULL, "target_type" character varying(64) NOT NULL, "target_id" character varying(255), "ip" character varying(64), "request_id" character varying(128), "metadata" jsonb NOT NULL DEFAULT '{}'::jsonb, CONSTRAINT "PK_910f64d901a5c3e9878f0d4a407" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_audit_events_at" ON "audit_events"  ("at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "signing_keys" ("kid" character varying(64) NOT NULL, "alg" character varying(16) NOT NULL, "private_key_pem" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_13362ac3e792c69417e1a53d355" PRIMARY KEY ("kid"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "org_tokens" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(100), "token_hash" character(64) NOT NULL, "prefix" character varying(12) NOT NULL, "created_by" character varying(300) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE, "last_used_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_427a00175caf9b3376cb43baf28" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_org_tokens_created_at" ON "org_tokens"  ("created_at") `);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_org_tokens_live_hash" ON "org_tokens"  ("token_hash") WHERE revoked_at IS NULL`,
    );
    await queryRunner.query(
      `ALTER TABLE "projects" ADD CONSTRAINT "FK_bd55b203eb9f92b0c8390380010" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "api_keys" ADD CONSTRAINT "FK_a3baee01d8408cd3c0f89a9a973" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "api_keys" ADD CONSTRAINT "FK_f5de07dbb229225e2be643ff3d0" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "api_keys" ADD CONSTRAINT "FK_2b6ffb5374460c4950a9e695f06" FOREIGN KEY ("billing_provider_id") REFERENCES "billing_providers"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "FK_2b6ffb5374460c4950a9e695f06"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "FK_f5de07dbb229225e2be643ff3d0"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "FK_a3baee01d8408cd3c0f89a9a973"`);
    await queryRunner.query(`ALTER TABLE "projects" DROP CONSTRAINT "FK_bd55b203eb9f92b0c8390380010"`);
    await queryRunner.query(`DROP INDEX "public"."uq_org_tokens_live_hash"`);
    await queryRunner.query(`DROP INDEX "public"."idx_org_tokens_created_at"`);
    await queryRunner.query(`DROP TABLE "org_tokens"`);
    await queryRunner.query(`DROP TABLE "signing_keys"`);
    await queryRunner.query(`DROP INDEX "public"."idx_audit_events_at"`);
    await queryRunner.query(`DROP TABLE "audit_events"`);
    await queryRunner.query(`DROP INDEX "public"."idx_api_keys_user_created"`);
    await queryRunner.query(`DROP INDEX "public"."idx_api_keys_project"`);
    await queryRunner.query(`DROP TABLE "api_keys"`);
    await queryRunner.query(`DROP INDEX "public"."uq_projects_user_name"`);
    await queryRunner.query(`DROP INDEX "public"."uq_projects_user_default"`);
    await queryRunner.query(`DROP TABLE "projects"`);
    await queryRunner.query(`DROP TABLE "users"`);
    await queryRunner.query(`DROP TABLE "billing_providers"`);
  }
}
