import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Provisioning revoked any keysmith-minted key of the user under its label, and rewrote any user's email and
 * name (issue 12, item 7). Keys now record their origin, and users the org provisioning created them for.
 *
 * Existing rows are classified from what was recorded: a key with a billing provider is `provider`; a
 * minted key whose creation was audited as `api_key.provisioned` is `provisioned`; every other key is
 * `minted` (so provisioning never revokes a key it cannot show it minted). A user is provisioning's when the
 * `api_key.provisioned` row that names it was written in the transaction that created it (both stamped with
 * that transaction's `now()`), and gets that row's org; every other user (first seen in the settings UI)
 * keeps null, so provisioning no longer rewrites their profile.
 */
export class RecordProvisioningOrigin1796155751086 implements MigrationInterface {
  name = 'RecordProvisioningOrigin1796155751086';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "users" ADD "provisioned_org_id" character varying(255)`);
    await queryRunner.query(
      `UPDATE "users" u SET "provisioned_org_id" = a."metadata"->>'orgId'
         FROM "audit_events" a
        WHERE a."action" = 'api_key.provisioned' AND a."metadata"->>'userId' = u."id"::text
          AND a."at" = u."created_at"`,
    );

    await queryRunner.query(
      `ALTER TABLE "api_keys" ADD "origin" character varying(16) NOT NULL DEFAULT 'minted'`,
    );
    await queryRunner.query(
      `UPDATE "api_keys" SET "origin" = 'provider' WHERE "billing_provider_id" IS NOT NULL`,
    );
    await queryRunner.query(
      `UPDATE "api_keys" k SET "origin" = 'provisioned'
        WHERE k."billing_provider_id" IS NULL
          AND EXISTS (SELECT 1 FROM "audit_events" a
                       WHERE a."action" = 'api_key.provisioned' AND a."target_type" = 'api_key'
                         AND a."target_id" = k."id"::text)`,
    );
    await queryRunner.query(`ALTER TABLE "api_keys" ALTER COLUMN "origin" DROP DEFAULT`);
    await queryRunner.query(
      `ALTER TABLE "api_keys" ADD CONSTRAINT "chk_api_keys_provider_origin"
       CHECK (("origin" = 'provider') = ("billing_provider_id" IS NOT NULL))`,
    );
    await queryRunner.query(
      `ALTER TABLE "api_keys" ADD CONSTRAINT "chk_api_keys_origin"
       CHECK ("origin" IN ('minted', 'provisioned', 'provider'))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "chk_api_keys_origin"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "chk_api_keys_provider_origin"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "origin"`);
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "provisioned_org_id"`);
  }
}
