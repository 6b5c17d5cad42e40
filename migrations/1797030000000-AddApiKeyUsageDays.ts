import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Closed UTC days of `api_key_usage` compacted into one row per key and day (decision 0117): `counts` holds the
 * day's hour buckets as the usage read's text (`start,valid,refused,…`, start in epoch seconds), `valid` and
 * `refused` their sums. The hour rows stay where counts are written; the retention sweep compacts them.
 */
export class AddApiKeyUsageDays1797030000000 implements MigrationInterface {
  name = 'AddApiKeyUsageDays1797030000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "api_key_usage_days" ("api_key_id" uuid NOT NULL, "day" TIMESTAMP WITH TIME ZONE NOT NULL, "counts" text NOT NULL, "valid" bigint NOT NULL, "refused" bigint NOT NULL, CONSTRAINT "pk_api_key_usage_days" PRIMARY KEY ("api_key_id", "day"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_api_key_usage_days_day" ON "api_key_usage_days" ("day") `);
    await queryRunner.query(
      `ALTER TABLE "api_key_usage_days" ADD CONSTRAINT "fk_api_key_usage_days_key" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // The compacted days go back to hour rows first, so reverting loses no count.
    await queryRunner.query(
      `INSERT INTO "api_key_usage" AS u ("api_key_id", "hour", "valid", "refused")
       SELECT d.api_key_id, to_timestamp(f[i]::float8), sum(f[i + 1]::bigint), sum(f[i + 2]::bigint)
         FROM "api_key_usage_days" d CROSS JOIN LATERAL string_to_array(d.counts, ',') AS f
              CROSS JOIN LATERAL generate_series(1, cardinality(f), 3) AS i
        GROUP BY 1, 2
       ON CONFLICT ("api_key_id", "hour") DO UPDATE
          SET valid = u.valid + EXCLUDED.valid, refused = u.refused + EXCLUDED.refused`,
    );
    await queryRunner.query(`ALTER TABLE "api_key_usage_days" DROP CONSTRAINT "fk_api_key_usage_days_key"`);
    await queryRunner.query(`DROP INDEX "public"."idx_api_key_usage_days_day"`);
    await queryRunner.query(`DROP TABLE "api_key_usage_days"`);
  }
}
