import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Usage counters (issue 23): resolves per API key, hour (UTC) and outcome (`api_key_usage`, gone with its
 * key), indexed by hour for the retention sweep. Existing keys start with no counts.
 */
export class AddApiKeyUsage1796920000000 implements MigrationInterface {
  name = 'AddApiKeyUsage1796920000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "api_key_usage" ("api_key_id" uuid NOT NULL, "hour" TIMESTAMP WITH TIME ZONE NOT NULL, "valid" bigint NOT NULL DEFAULT '0', "refused" bigint NOT NULL DEFAULT '0', CONSTRAINT "pk_api_key_usage" PRIMARY KEY ("api_key_id", "hour"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_api_key_usage_hour" ON "api_key_usage" ("hour") `);
    await queryRunner.query(
      `ALTER TABLE "api_key_usage" ADD CONSTRAINT "fk_api_key_usage_key" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_key_usage" DROP CONSTRAINT "fk_api_key_usage_key"`);
    await queryRunner.query(`DROP INDEX "public"."idx_api_key_usage_hour"`);
    await queryRunner.query(`DROP TABLE "api_key_usage"`);
  }
}
