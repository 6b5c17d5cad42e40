import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Key states (issue 19): a key can be switched off and on again (`disabled_at`), and a revocation records why
 * (`revoked_reason`). Keys revoked before this migration keep a NULL reason: nothing recorded which path
 * revoked them, and guessing `user` would put words in the audit trail. A live key never has a reason.
 */
export class AddApiKeyStates1796700000000 implements MigrationInterface {
  name = 'AddApiKeyStates1796700000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" ADD "disabled_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "api_keys" ADD "revoked_reason" character varying(16)`);
    await queryRunner.query(
      `ALTER TABLE "api_keys" ADD CONSTRAINT "chk_api_keys_revoked_reason" CHECK ("revoked_reason" IN ('user', 'admin', 'provisioning', 'rolled', 'leaked', 'reported', 'offboarding'))`,
    );
    await queryRunner.query(
      `ALTER TABLE "api_keys" ADD CONSTRAINT "chk_api_keys_reason_only_revoked" CHECK ("revoked_reason" IS NULL OR "revoked_at" IS NOT NULL)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "chk_api_keys_reason_only_revoked"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "chk_api_keys_revoked_reason"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "revoked_reason"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "disabled_at"`);
  }
}
