import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Org-token scopes and rolls (issue 19, decision 0070). Every existing token gets `{admin}`: it could do
 * everything before scopes existed, and the default keeps it so. `successor_id` marks a rolled token (at most
 * one successor names it) and `grace_ends_at` is when it stops working.
 */
export class AddOrgTokenScopesAndRoll1796820000000 implements MigrationInterface {
  name = 'AddOrgTokenScopesAndRoll1796820000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "org_tokens" ADD "scopes" text array NOT NULL DEFAULT '{admin}'`);
    await queryRunner.query(`ALTER TABLE "org_tokens" ADD "successor_id" uuid`);
    await queryRunner.query(`ALTER TABLE "org_tokens" ADD "grace_ends_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_org_tokens_successor" ON "org_tokens" ("successor_id")`);
    await queryRunner.query(
      `ALTER TABLE "org_tokens" ADD CONSTRAINT "chk_org_tokens_scopes" CHECK (cardinality("scopes") > 0 AND "scopes" <@ ARRAY['admin', 'admin:read', 'org-tokens:write', 'api-keys:admin', 'users:admin', 'webhooks:admin', 'audit:read']::text[])`,
    );
    await queryRunner.query(
      `ALTER TABLE "org_tokens" ADD CONSTRAINT "FK_3f7776bb861024f46c1ced50720" FOREIGN KEY ("successor_id") REFERENCES "org_tokens"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
    );
  }

  /**
   * Before the columns go, nothing may gain by it: a rolled token still unrevoked is revoked at the end of its
   * grace (or now, if that is later), else it would be live again with no grace to end; and a token whose
   * scopes do not include `admin` is revoked now, else it would be a full admin token. (`revoked_reason` comes
   * later in the chain, AddOrgTokenRevokedReason, and is already gone here.)
   */
  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `UPDATE "org_tokens" SET "revoked_at" = LEAST("grace_ends_at", now())
        WHERE "successor_id" IS NOT NULL AND "revoked_at" IS NULL`,
    );
    await queryRunner.query(
      `UPDATE "org_tokens" SET "revoked_at" = now() WHERE NOT ('admin' = ANY("scopes")) AND "revoked_at" IS NULL`,
    );
    await queryRunner.query(`ALTER TABLE "org_tokens" DROP CONSTRAINT "FK_3f7776bb861024f46c1ced50720"`);
    await queryRunner.query(`ALTER TABLE "org_tokens" DROP CONSTRAINT "chk_org_tokens_scopes"`);
    await queryRunner.query(`DROP INDEX "public"."uq_org_tokens_successor"`);
    await queryRunner.query(`ALTER TABLE "org_tokens" DROP COLUMN "grace_ends_at"`);
    await queryRunner.query(`ALTER TABLE "org_tokens" DROP COLUMN "successor_id"`);
    await queryRunner.query(`ALTER TABLE "org_tokens" DROP COLUMN "scopes"`);
  }
}
