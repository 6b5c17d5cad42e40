import type { EntityManager } from 'typeorm';

export interface NewApiKeyRow {
  keyId: string;
  /** SHA-256 of the whole key; the plaintext never reaches this function. */
  hash: string;
  prefix: string;
  label: string | null;
  userId: string;
  projectId: string;
  /** Set for a provider-issued key; null for a keysmith-minted one (the only kind that resolves). */
  billingProviderId?: string | null;
  allowedOrigins?: string[];
  expiresAt?: Date | null;
}

/**
 * Inserts an API key row and returns its id, or undefined when its lookup id, or the same key for the same
 * user, is already stored. `ON CONFLICT DO NOTHING` instead of catching the unique violation keeps the
 * caller's transaction usable.
 */
export async function insertApiKey(m: EntityManager, row: NewApiKeyRow): Promise<string | undefined> {
  const inserted: { id: string }[] = await m.query(
    `INSERT INTO api_keys (key_id, key_hash, key_prefix, label, user_id, project_id, billing_provider_id,
                           allowed_origins, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text[], $9)
     ON CONFLICT DO NOTHING RETURNING id`,
    [
      row.keyId,
      row.hash,
      row.prefix,
      row.label,
      row.userId,
      row.projectId,
      row.billingProviderId ?? null,
      row.allowedOrigins ?? [],
      row.expiresAt ?? null,
    ],
  );
  return inserted[0]?.id;
}
