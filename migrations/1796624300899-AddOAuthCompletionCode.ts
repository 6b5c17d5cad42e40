import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A provider key could be stolen with a link (issue 16, item 1): whoever completed the login at the provider,
 * the starter's poll got the key. The key is now released only with a one-time completion code that the
 * callback page hands to the settings UI window that opened it. The table keeps the code's SHA-256 (never the
 * code) and counts wrong codes; five fail the session. Sessions completed before this migration have no code:
 * they can no longer be redeemed, and expire within their TTL.
 */
export class AddOAuthCompletionCode1796624300899 implements MigrationInterface {
  name = 'AddOAuthCompletionCode1796624300899';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "oauth_sessions" ADD "completion_code_hash" character(64)`);
    await queryRunner.query(
      `ALTER TABLE "oauth_sessions" ADD "completion_attempts" integer NOT NULL DEFAULT '0'`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "oauth_sessions" DROP COLUMN "completion_attempts"`);
    await queryRunner.query(`ALTER TABLE "oauth_sessions" DROP COLUMN "completion_code_hash"`);
  }
}
