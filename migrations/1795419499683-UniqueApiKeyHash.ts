import type { MigrationInterface, QueryRunner } from 'typeorm';

export class UniqueApiKeyHash1795419499683 implements MigrationInterface {
  name = 'UniqueApiKeyHash1795419499683';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_api_keys_user_key_hash" ON "api_keys" ("user_id", "key_hash") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."uq_api_keys_user_key_hash"`);
  }
}
