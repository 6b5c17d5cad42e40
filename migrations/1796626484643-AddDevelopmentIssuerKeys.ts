import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The development issuer's key pair (issue 18, decision 0045): outside production with no identity provider
 * configured, keysmith trusts tokens signed by a key it generates once and keeps here, so that every instance
 * and `npm run dev:token` share it. Production never reads this table.
 */
export class AddDevelopmentIssuerKeys1796626484643 implements MigrationInterface {
  name = 'AddDevelopmentIssuerKeys1796626484643';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "development_issuer_keys" (
        "kid" character varying(64) NOT NULL,
        "alg" character varying(16) NOT NULL,
        "private_key_pem" text NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "pk_development_issuer_keys" PRIMARY KEY ("kid")
      )`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "development_issuer_keys"`);
  }
}
