import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Audit rows keep the caller's `x-request-id` apart from the id keysmith gave the request (issue 12): until
 * now a well-formed incoming id was adopted as THE request id. Existing rows whose `request_id` is not a UUID
 * certainly carry a caller's id: it moves to `caller_request_id` (their own id was never recorded). A
 * UUID-shaped one is left where it is: most are keysmith's own, and the two cannot be told apart.
 */
export class AddAuditCallerRequestId1796154835854 implements MigrationInterface {
  name = 'AddAuditCallerRequestId1796154835854';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "audit_events" ADD "caller_request_id" character varying(128)`);
    await queryRunner.query(
      `UPDATE "audit_events" SET "caller_request_id" = "request_id", "request_id" = NULL
        WHERE "request_id" !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Before this migration a row had one id: the caller's, where it sent one.
    await queryRunner.query(
      `UPDATE "audit_events" SET "request_id" = "caller_request_id" WHERE "caller_request_id" IS NOT NULL`,
    );
    await queryRunner.query(`ALTER TABLE "audit_events" DROP COLUMN "caller_request_id"`);
  }
}
