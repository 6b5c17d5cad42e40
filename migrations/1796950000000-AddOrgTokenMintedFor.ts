import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Enough for any real chain of rolls and token-minted tokens; a cycle (there is none) cannot loop forever. */
const MAX_LINEAGE_PASSES = 100;

/**
 * Org tokens record whose they are (`minted_for`, decision 0110): the root of their lineage. A token a session,
 * ADMIN_TOKEN or bootstrap minted is its minter's (`created_by`); a token another org token minted, and a
 * roll's successor, inherit the minting or rolled token's. Offboarding revokes by it, so no roll or
 * token-minted token escapes it.
 *
 * Existing rows: `created_by` first, then the lineage is followed until nothing changes: a successor takes its
 * predecessor's value, and a token whose `created_by` is `org-token:<prefix>` takes the value of the one token
 * with that prefix minted before it (a prefix two tokens share names neither: the row keeps its own
 * `created_by`, which the offboarding never matched anyway).
 */
export class AddOrgTokenMintedFor1796950000000 implements MigrationInterface {
  name = 'AddOrgTokenMintedFor1796950000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "org_tokens" ADD "minted_for" character varying(300)`);
    await queryRunner.query(`UPDATE "org_tokens" SET "minted_for" = "created_by"`);
    for (let pass = 0; pass < MAX_LINEAGE_PASSES; pass++) {
      const [, rolled] = (await queryRunner.query(
        `UPDATE "org_tokens" t SET "minted_for" = p."minted_for"
           FROM "org_tokens" p
          WHERE p."successor_id" = t."id" AND t."minted_for" IS DISTINCT FROM p."minted_for"`,
      )) as [unknown, number];
      const [, minted] = (await queryRunner.query(
        `UPDATE "org_tokens" t SET "minted_for" = p."minted_for"
           FROM "org_tokens" p
          WHERE t."created_by" = 'org-token:' || p."prefix" AND p."created_at" <= t."created_at"
            AND NOT EXISTS (SELECT 1 FROM "org_tokens" o WHERE o."prefix" = p."prefix" AND o."id" <> p."id")
            AND NOT EXISTS (SELECT 1 FROM "org_tokens" s WHERE s."successor_id" = t."id")
            AND t."minted_for" IS DISTINCT FROM p."minted_for"`,
      )) as [unknown, number];
      if (rolled + minted === 0) break;
    }
    await queryRunner.query(`ALTER TABLE "org_tokens" ALTER COLUMN "minted_for" SET NOT NULL`);
    await queryRunner.query(`CREATE INDEX "idx_org_tokens_minted_for" ON "org_tokens" ("minted_for") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_org_tokens_minted_for"`);
    await queryRunner.query(`ALTER TABLE "org_tokens" DROP COLUMN "minted_for"`);
  }
}
