import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A wrong secret under an existing key version went unnoticed (issue 16, item 4): the instance that had it
 * wrote values no other instance could read. Each version now has a key-check value (an HKDF output of its
 * secret under a label of its own, never the secret or a hash of it), recorded by the first instance that
 * sees the version and compared by every instance at start (decision 0032).
 *
 * Nothing is backfilled here: a migration has no secret. The first start after it records the value of each
 * configured version, once the secret has opened a stored value of that version when there is one.
 */
export class RecordEncryptionKeyChecks1796624330437 implements MigrationInterface {
  name = 'RecordEncryptionKeyChecks1796624330437';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "encryption_key_checks" (
        "version" integer NOT NULL,
        "check_value" bytea NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "chk_encryption_key_checks_value" CHECK (octet_length("check_value") = 32),
        CONSTRAINT "chk_encryption_key_checks_version" CHECK ("version" >= 1),
        CONSTRAINT "pk_encryption_key_checks" PRIMARY KEY ("version")
      )`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "encryption_key_checks"`);
  }
}
