import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Scopes on API keys (issue 19, decision 0017): a text array like `allowed_origins`, empty for every existing
 * key. The resolution lookup reads it with the key's row; nothing queries keys by scope.
 */
export class AddApiKeyScopes1796629895348 implements MigrationInterface {
  name = 'AddApiKeyScopes1796629895348';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" ADD "scopes" text array NOT NULL DEFAULT '{}'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "scopes"`);
  }
}
