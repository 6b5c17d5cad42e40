import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 20 (admin inventory and offboarding). The indexes the admin lists page on, newest first by
 * (created_at, id) under each filter (a user's keys: `idx_api_keys_user_created` gains `id`), and the `q` prefix searches (lower(...) text_pattern_ops; TypeORM cannot
 * spell expression indexes, so the entities mark those `synchronize: false`). The audit log's new filters page
 * the same way. `revocation_endpoint` is the RFC 7009 endpoint a credential's refresh token is revoked at when
 * its user is offboarded (or the credential deleted).
 */
export class AddAdminInventory1796840000000 implements MigrationInterface {
  name = 'AddAdminInventory1796840000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "mcp_oauth_credentials" ADD "revocation_endpoint" character varying(2048)`,
    );
    await queryRunner.query(`DROP INDEX "public"."idx_api_keys_user_created"`);
    await queryRunner.query(
      `CREATE INDEX "idx_api_keys_user_created" ON "api_keys" ("user_id", "created_at", "id") `,
    );
    await queryRunner.query(`CREATE INDEX "idx_api_keys_created_id" ON "api_keys" ("created_at", "id") `);
    await queryRunner.query(
      `CREATE INDEX "idx_api_keys_project_created" ON "api_keys" ("project_id", "created_at", "id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_api_keys_label_search" ON "api_keys" (lower("label") text_pattern_ops)`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_api_keys_prefix_search" ON "api_keys" (lower("key_prefix") text_pattern_ops)`,
    );
    await queryRunner.query(`CREATE INDEX "idx_users_created_id" ON "users" ("created_at", "id") `);
    await queryRunner.query(
      `CREATE INDEX "idx_users_external_id_search" ON "users" (lower("external_id") text_pattern_ops)`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_users_email_search" ON "users" (lower("email") text_pattern_ops)`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_users_name_search" ON "users" (lower("name") text_pattern_ops)`,
    );
    await queryRunner.query(`CREATE INDEX "idx_org_tokens_created_by" ON "org_tokens" ("created_by") `);
    await queryRunner.query(
      `CREATE INDEX "idx_audit_events_actor_at" ON "audit_events" ("actor", "at", "id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_audit_events_action_at" ON "audit_events" ("action", "at", "id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_audit_events_target_at" ON "audit_events" ("target_id", "at", "id") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_audit_events_target_at"`);
    await queryRunner.query(`DROP INDEX "public"."idx_audit_events_action_at"`);
    await queryRunner.query(`DROP INDEX "public"."idx_audit_events_actor_at"`);
    await queryRunner.query(`DROP INDEX "public"."idx_org_tokens_created_by"`);
    await queryRunner.query(`DROP INDEX "public"."idx_users_name_search"`);
    await queryRunner.query(`DROP INDEX "public"."idx_users_email_search"`);
    await queryRunner.query(`DROP INDEX "public"."idx_users_external_id_search"`);
    await queryRunner.query(`DROP INDEX "public"."idx_users_created_id"`);
    await queryRunner.query(`DROP INDEX "public"."idx_api_keys_prefix_search"`);
    await queryRunner.query(`DROP INDEX "public"."idx_api_keys_label_search"`);
    await queryRunner.query(`DROP INDEX "public"."idx_api_keys_project_created"`);
    await queryRunner.query(`DROP INDEX "public"."idx_api_keys_created_id"`);
    await queryRunner.query(`DROP INDEX "public"."idx_api_keys_user_created"`);
    await queryRunner.query(
      `CREATE INDEX "idx_api_keys_user_created" ON "api_keys" ("user_id", "created_at") `,
    );
    await queryRunner.query(`ALTER TABLE "mcp_oauth_credentials" DROP COLUMN "revocation_endpoint"`);
  }
}
