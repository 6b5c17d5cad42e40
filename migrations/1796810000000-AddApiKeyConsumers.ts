import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Key consumers (issue 19): the M2M clients that resolved each API key, first and last time
 * (`api_key_consumers`, gone with its key), and the client of a key's last resolve beside its
 * `last_used_at` (`api_keys.last_used_by`). Existing keys start with no consumers and a NULL `last_used_by`:
 * nothing recorded who resolved them before.
 */
export class AddApiKeyConsumers1796810000000 implements MigrationInterface {
  name = 'AddApiKeyConsumers1796810000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "api_key_consumers" ("key_id" uuid NOT NULL, "client_id" character varying(255) NOT NULL, "first_resolved_at" TIMESTAMP WITH TIME ZONE NOT NULL, "last_resolved_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_api_key_consumers" PRIMARY KEY ("key_id", "client_id"))`,
    );
    await queryRunner.query(`ALTER TABLE "api_keys" ADD "last_used_by" character varying(255)`);
    await queryRunner.query(
      `ALTER TABLE "api_key_consumers" ADD CONSTRAINT "fk_api_key_consumers_key" FOREIGN KEY ("key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_key_consumers" DROP CONSTRAINT "fk_api_key_consumers_key"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "last_used_by"`);
    await queryRunner.query(`DROP TABLE "api_key_consumers"`);
  }
}
