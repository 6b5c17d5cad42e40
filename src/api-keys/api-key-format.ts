import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { CHECKSUM_LENGTH, checksumOf } from 'src/crypto/checksum';

/**
 * `ksk_<keyId: 16 lowercase hex>_<secret: 64 lowercase hex>_<checksum: 6 base62>`, the checksum being the
 * CRC32 of everything before the last `_` (API.md, "Credentials"; src/crypto/checksum.ts).
 */
export const API_KEY_PATTERN = /^ksk_([0-9a-f]{16})_([0-9a-f]{64})_[0-9A-Za-z]{6}$/;
export const API_KEY_LENGTH = 4 + 16 + 1 + 64 + 1 + CHECKSUM_LENGTH;
/** Keys minted before the checksum existed, `ksk_<keyId>_<secret>`: valid until revoked or expired. */
export const LEGACY_API_KEY_PATTERN = /^ksk_([0-9a-f]{16})_([0-9a-f]{64})$/;
export const LEGACY_API_KEY_LENGTH = 4 + 16 + 1 + 64;
export const KEY_PREFIX_LENGTH = 12;

export interface ParsedApiKey {
  keyId: string;
  secret: string;
}

export interface GeneratedApiKey extends ParsedApiKey {
  /** The plaintext: shown to the caller once, never stored. */
  plaintext: string;
  hash: string;
  prefix: string;
}

/** A new key from 8 + 32 random bytes, with its checksum. */
export function generateApiKey(): GeneratedApiKey {
  const keyId = randomLookupId();
  const secret = randomBytes(32).toString('hex');
  const body = `ksk_${keyId}_${secret}`;
  const plaintext = `${body}_${checksumOf(body)}`;
  return { keyId, secret, plaintext, hash: hashApiKey(plaintext), prefix: keyPrefix(plaintext) };
}

/**
 * `{keyId, secret}` for a well-formed key (checksummed with a matching checksum, or of the legacy shape
 * without one), otherwise null; callers reject null without a database lookup.
 */
export function parseApiKey(presented: unknown): ParsedApiKey | null {
  if (typeof presented !== 'string') return null;
  // The length checks first keep the regexes off arbitrarily long input.
  let match: RegExpExecArray | null = null;
  if (presented.length === API_KEY_LENGTH) {
    match = API_KEY_PATTERN.exec(presented);
    // The checksum covers everything before the last `_`.
    if (match && checksumOf(presented.slice(0, LEGACY_API_KEY_LENGTH)) !== presented.slice(-CHECKSUM_LENGTH))
      return null;
  } else if (presented.length === LEGACY_API_KEY_LENGTH) {
    match = LEGACY_API_KEY_PATTERN.exec(presented);
  }
  if (!match) return null;
  return { keyId: match[1]!, secret: match[2]! };
}

/**
 * SHA-256 of the whole key as presented (its checksum included; a legacy key's without one), lowercase hex:
 * what the database stores in place of the key. A legacy key with a checksum appended is another string, so
 * it matches no stored hash.
 */
export function hashApiKey(plaintext: string): string {
  // One-shot hash (a string is hashed as UTF-8): no Hash object per call on the resolve hot path.
  return hash('sha256', plaintext, 'hex');
}

/** The display prefix: the first 12 characters of the plaintext (`ksk_` and 8 characters of the key id). */
export function keyPrefix(plaintext: string): string {
  return plaintext.slice(0, KEY_PREFIX_LENGTH);
}

/**
 * Compares two hex SHA-256 digests in constant time. Inputs of another length (or not hex) never match;
 * the lengths of digests are public, so checking them first leaks nothing.
 */
export function hashesEqual(a: string, b: string): boolean {
  const bufA = Buffer.from(a, 'utf8');
  const bufB = Buffer.from(b, 'utf8');
  if (bufA.length !== 64 || bufB.length !== 64) return false;
  return timingSafeEqual(bufA, bufB);
}

/** How much of a provider-issued key is ever kept in the clear: its last characters, behind a mask. */
export const PROVIDER_KEY_VISIBLE_CHARS = 4;

/**
 * The display `keyPrefix` of a provider-issued key: `****` and its last 4 characters (API.md: "a masked
 * keyPrefix showing at most its last 4 characters"). Nothing else of the key is stored in the clear: its
 * lookup id is random (`randomLookupId`), whatever the key looks like, because the parts of a provider's key
 * are the provider's to call public or secret.
 */
export function maskedProviderKeyPrefix(rawKey: string): string {
  return `****${rawKey.slice(-PROVIDER_KEY_VISIBLE_CHARS)}`;
}

/** 16 random lowercase hex characters, the same shape as a minted key's id. */
export function randomLookupId(): string {
  return randomBytes(8).toString('hex');
}
