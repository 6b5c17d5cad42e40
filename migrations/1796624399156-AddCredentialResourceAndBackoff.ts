import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 16: MCP credentials carry the MCP server's resource indicator (RFC 8707), sent with every refresh
 * (plain text: it is a public URL, not a secret), and remember their consecutive upstream failures, so that a
 * credential whose token endpoint keeps failing backs off (CREDENTIALS_FAILURES_BEFORE_BACKOFF) instead of
 * holding a refresh slot for every call. Existing rows have no resource and no failures.
 */
export class AddCredentialResourceAndBackoff1796624399156 implements MigrationInterface {
  name = 'AddCredentialResourceAndBackoff1796624399156';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "mcp_oauth_credentials" ADD "resource" character varying(2048)`);
    await queryRunner.query(
      `ALTER TABLE "mcp_oauth_credentials" ADD "consecutive_failures" integer NOT NULL DEFAULT 0`,
    );
    await queryRunner.query(
      `ALTER TABLE "mcp_oauth_credentials" ADD "backoff_until" TIMESTAMP WITH TIME ZONE`,
    );
    await queryRunner.query(
      `ALTER TABLE "mcp_oauth_credentials" ADD "last_failure_reason" character varying(32)`,
    );
    await queryRunner.query(
      `ALTER TABLE "mcp_oauth_credentials" ADD "last_failure_at" TIMESTAMP WITH TIME ZONE`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "mcp_oauth_credentials" DROP COLUMN "last_failure_at"`);
    await queryRunner.query(`ALTER TABLE "mcp_oauth_credentials" DROP COLUMN "last_failure_reason"`);
    await queryRunner.query(`ALTER TABLE "mcp_oauth_credentials" DROP COLUMN "backoff_until"`);
    await queryRunner.query(`ALTER TABLE "mcp_oauth_credentials" DROP COLUMN "consecutive_failures"`);
    await queryRunner.query(`ALTER TABLE "mcp_oauth_credentials" DROP COLUMN "resource"`);
  }
}
