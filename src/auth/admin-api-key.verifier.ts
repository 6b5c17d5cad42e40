import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { keyPrefix, parseApiKey, verifyApiKey } from 'src/api-keys/api-key-format';

/** What the deprecated API-key admin tier needs from API-key verification. */
export interface AdminApiKeyVerifier {
  /** The live key `credential` is (not revoked, not expired, its user not disabled), or null. */
  verify(credential: string): Promise<{ keyPrefix: string } | null>;
}

/** Provide this token to replace the table lookup below with the API-keys module's own verifier. */
export const ADMIN_API_KEY_VERIFIER = Symbol('ADMIN_API_KEY_VERIFIER');

/**
 * Minimal verification straight on `api_keys`: parse (a malformed key never reaches the database), one lookup
 * on the unique `key_id`, constant-time comparison of the SHA-256, live check.
 */
@Injectable()
export class ApiKeyTableVerifier implements AdminApiKeyVerifier {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async verify(credential: string): Promise<{ keyPrefix: string } | null> {
    const parsed = parseApiKey(credential);
    if (!parsed) return null;
    const rows = await this.dataSource.query<{ key_hash: string }[]>(
      `SELECT k.key_hash FROM api_keys k JOIN users u ON u.id = k.user_id
        WHERE k.key_id = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
          AND u.disabled_at IS NULL`,
      [parsed.keyId],
    );
    const row = rows[0];
    if (!row || !verifyApiKey(credential, row.key_hash)) return null;
    return { keyPrefix: keyPrefix(credential) };
  }
}
