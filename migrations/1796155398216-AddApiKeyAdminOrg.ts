import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The deprecated API-key admin tier accepted any live key (issue 12, item 3). A key now records the org
 * (ORG_ID) whose admin minted it from a session; only such keys pass the tier. Existing keys get null: who
 * minted them from which org was never recorded, so none of them is an admin credential any more.
 */
export class AddApiKeyAdminOrg1796155398216 implements MigrationInterface {
  name = 'AddApiKeyAdminOrg1796155398216';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" ADD "admin_org_id" character varying(255)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "admin_org_id"`);
  }
}
