import { createHash, randomBytes } from 'node:crypto';
import { BASE62, CHECKSUM_LENGTH, checksumOf, hasValidChecksum } from 'src/crypto/checksum';

/**
 * Org token plaintext: `kso_` + 32 base62 random characters + 6 base62 characters of the CRC32 of everything
 * before them. The checksum lets a typo or a random string be refused without a database lookup, and the
 * fixed shape lets secret scanners recognise a leaked token.
 */
export const ORG_TOKEN_PREFIX = 'kso_';
export const ORG_TOKEN_RANDOM_LENGTH = 32;
export const ORG_TOKEN_CHECKSUM_LENGTH = CHECKSUM_LENGTH;
/** What the UI and the audit log show: the first 12 characters of the plaintext. */
export const ORG_TOKEN_DISPLAY_PREFIX_LENGTH = 12;
export const ORG_TOKEN_LENGTH = ORG_TOKEN_PREFIX.length + ORG_TOKEN_RANDOM_LENGTH + ORG_TOKEN_CHECKSUM_LENGTH;

const ORG_TOKEN_SHAPE = new RegExp(
  `^${ORG_TOKEN_PREFIX}[0-9A-Za-z]{${ORG_TOKEN_RANDOM_LENGTH + ORG_TOKEN_CHECKSUM_LENGTH}}$`,
);
// 62 * 4: bytes at or above it are rejected so every base62 character is equally likely.
const UNBIASED_BYTE_LIMIT = 248;

export interface GeneratedOrgToken {
  /** The plaintext: returned to the caller once, never stored or logged. */
  token: string;
  hash: string;
  prefix: string;
}

function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= UNBIASED_BYTE_LIMIT) continue;
      out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export function hashOrgToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function orgTokenDisplayPrefix(token: string): string {
  return token.slice(0, ORG_TOKEN_DISPLAY_PREFIX_LENGTH);
}

export function generateOrgToken(): GeneratedOrgToken {
  const body = ORG_TOKEN_PREFIX + randomBase62(ORG_TOKEN_RANDOM_LENGTH);
  const token = body + checksumOf(body);
  return { token, hash: hashOrgToken(token), prefix: orgTokenDisplayPrefix(token) };
}

/** Shape and checksum only: true says the string could be a token we minted, not that it is live. */
export function isWellFormedOrgToken(candidate: string): boolean {
  return (
    candidate.length === ORG_TOKEN_LENGTH && ORG_TOKEN_SHAPE.test(candidate) && hasValidChecksum(candidate)
  );
}
