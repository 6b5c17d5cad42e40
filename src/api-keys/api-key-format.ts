import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** `ksk_<keyId: 16 lowercase hex>_<secret: 64 lowercase hex>` (API.md, "Credentials"). */
export const API_KEY_PATTERN = /^ksk_([0-9a-f]{16})_([0-9a-f]{64})$/;
export const API_KEY_LENGTH = 4 + 16 + 1 + 64;
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

/** A new key from 8 + 32 random bytes. */
export function generateApiKey(): GeneratedApiKey {
  const keyId = randomLookupId();
  const secret = randomBytes(32).toString('hex');
  const plaintext = `ksk_${keyId}_${secret}`;
  return { keyId, secret, plaintext, hash: hashApiKey(plaintext), prefix: keyPrefix(plaintext) };
}

/** `{keyId, secret}` for a well-formed key, otherwise null; callers reject null without a database lookup. */
export function parseApiKey(presented: unknown): ParsedApiKey | null {
  // The length check first keeps the regex off arbitrarily long input.
  if (typeof presented !== 'string' || presented.length !== API_KEY_LENGTH) return null;
  const match = API_KEY_PATTERN.exec(presented);
  if (!match) return null;
  return { keyId: match[1]!, secret: match[2]! };
}

/** SHA-256 of the whole key, lowercase hex: what the database stores in place of the key. */
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

/**
 * Provider-issued keys shaped `<prefix>_<id>_<secret>` carry their own lookup id, the middle part.
 * Anything else gets a random one.
 */
const PROVIDER_KEY_SHAPE = /^[A-Za-z][A-Za-z0-9]{0,15}_([A-Za-z0-9]{8,64})_[A-Za-z0-9-]{16,}$/;

/** The lookup id stored for a provider-issued key: its embedded id, or 16 random hex characters. */
export function providerKeyLookupId(rawKey: string): string {
  return PROVIDER_KEY_SHAPE.exec(rawKey)?.[1] ?? randomLookupId();
}

/** 16 random lowercase hex characters, the same shape as a minted key's id. */
export function randomLookupId(): string {
  return randomBytes(8).toString('hex');
}
