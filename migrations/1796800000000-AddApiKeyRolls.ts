import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Rolling API keys with a grace (issue 19, decision 0060): the old key points at its successor and the new one
 * at its predecessor (unique: a key is rolled once), and the old key holds when it was rolled, when its grace
 * ends and its optional "unused for" limit. The end of a grace is computed from these, never written.
 */
export class AddApiKeyRolls1796800000000 implements MigrationInterface {
  name = 'AddApiKeyRolls1796800000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" ADD "predecessor_id" uuid`);
    await queryRunner.query(`ALTER TABLE "api_keys" ADD "successor_id" uuid`);
    await queryRunner.query(`ALTER TABLE "api_keys" ADD "rolled_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "api_keys" ADD "grace_ends_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "api_keys" ADD "grace_unused_seconds" integer`);
    await queryRunner.query(
      `ALTER TABLE "api_keys" ADD CONSTRAINT "chk_api_keys_rolled" CHECK (("successor_id" IS NULL) = ("grace_ends_at" IS NULL) AND ("successor_id" IS NULL) = ("rolled_at" IS NULL) AND ("grace_unused_seconds" IS NULL OR "successor_id" IS NOT NULL))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_api_keys_predecessor" ON "api_keys" ("predecessor_id") `,
    );
    await queryRunner.query(
      `ALTER TABLE "api_keys" ADD CONSTRAINT "fk_api_keys_predecessor" FOREIGN KEY ("predecessor_id") REFERENCES "api_keys"("id") ON DELETE NO ACTION ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "api_keys" ADD CONSTRAINT "fk_api_keys_successor" FOREIGN KEY ("successor_id") REFERENCES "api_keys"("id") ON DELETE NO ACTION ON UPDATE NO ACTION`,
    );
  }

  /**
   * Before the roll columns go, every rolled key still unrevoked is revoked (reason `rolled`) at the end of its
   * grace, or now if that is later: without the columns nothing would end the grace, and a rolled-away key
   * would be live again. The end is src/api-keys/grace.ts's rule (`graceEndMs`), its slack inlined: a
   * migration does not follow later code.
   */
  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `UPDATE "api_keys"
          SET "revoked_at" = LEAST(
                "grace_ends_at",
                CASE WHEN "grace_unused_seconds" IS NOT NULL
                     THEN GREATEST("rolled_at", "last_used_at") + make_interval(secs => "grace_unused_seconds" + 150)
                END,
                now()),
              "revoked_reason" = 'rolled'
        WHERE "successor_id" IS NOT NULL AND "revoked_at" IS NULL`,
    );
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "fk_api_keys_successor"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "fk_api_keys_predecessor"`);
    await queryRunner.query(`DROP INDEX "public"."uq_api_keys_predecessor"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "chk_api_keys_rolled"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "grace_unused_seconds"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "grace_ends_at"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "rolled_at"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "successor_id"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "predecessor_id"`);
  }
}
