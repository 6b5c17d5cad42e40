import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Org tokens record why they were revoked, as API keys do (AddApiKeyStates): `leaked` (a secret scanner's
 * report) and `reported` (the public revoke endpoint), and the lifecycle's `admin`, `rolled`, `offboarding`. Tokens
 * revoked before this migration keep a NULL reason; a live token never has one.
 */
export class AddOrgTokenRevokedReason1796830000000 implements MigrationInterface {
  name = 'AddOrgTokenRevokedReason1796830000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "org_tokens" ADD "revoked_reason" character varying(16)`);
    await queryRunner.query(
      `ALTER TABLE "org_tokens" ADD CONSTRAINT "chk_org_tokens_revoked_reason" CHECK ("revoked_reason" IN ('admin', 'rolled', 'leaked', 'reported', 'offboarding'))`,
    );
    await queryRunner.query(
      `ALTER TABLE "org_tokens" ADD CONSTRAINT "chk_org_tokens_reason_only_revoked" CHECK ("revoked_reason" IS NULL OR "revoked_at" IS NOT NULL)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "org_tokens" DROP CONSTRAINT "chk_org_tokens_reason_only_revoked"`);
    await queryRunner.query(`ALTER TABLE "org_tokens" DROP CONSTRAINT "chk_org_tokens_revoked_reason"`);
    await queryRunner.query(`ALTER TABLE "org_tokens" DROP COLUMN "revoked_reason"`);
  }
}
