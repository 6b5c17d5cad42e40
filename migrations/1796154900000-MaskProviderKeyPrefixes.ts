import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Provider-issued keys kept their first 12 characters in plaintext (`key_prefix`, and the `keyPrefix` of their
 * audit rows) and, when shaped `<prefix>_<id>_<secret>`, their middle part as `key_id`: half of a 24-character
 * key. From now on only `****` and the last 4 characters are kept (issue 12, item 10); the last 4 characters
 * of a stored key were never recorded, so existing rows keep the mask alone. Their lookup ids become random
 * (provider keys never resolve: the id is only a unique handle). Not reversible: the plaintext is gone.
 */
export class MaskProviderKeyPrefixes1796154900000 implements MigrationInterface {
  name = 'MaskProviderKeyPrefixes1796154900000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // Audit rows of provider keys first, while api_keys still tells which rows are providers'.
    await queryRunner.query(
      `UPDATE "audit_events" a SET "metadata" = jsonb_set(a."metadata", '{keyPrefix}', '"****"')
         FROM "api_keys" k
        WHERE a."target_type" = 'api_key' AND a."target_id" = k."id"::text
          AND k."billing_provider_id" IS NOT NULL AND a."metadata" ? 'keyPrefix'`,
    );
    await queryRunner.query(
      `UPDATE "api_keys" SET "key_prefix" = '****', "key_id" = substr(md5(gen_random_uuid()::text), 1, 16)
        WHERE "billing_provider_id" IS NOT NULL`,
    );
  }

  public async down(): Promise<void> {
    // Nothing to restore: the plaintext prefixes and embedded ids were dropped on purpose.
  }
}
