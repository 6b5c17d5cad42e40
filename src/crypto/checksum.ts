import { crc32 } from 'node:zlib';

/**
 * The checksum that ends keysmith's credentials (org tokens, API keys): CRC32 of everything before it, in 6
 * base62 characters. It lets a typo or a made-up string be refused without a database lookup, and gives
 * secret scanners a shape they can verify. Not a MAC: anyone can compute it.
 */
export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const CHECKSUM_LENGTH = 6;

/** Fixed-width base62 of an unsigned 32-bit value (62^6 > 2^32, so 6 characters always suffice). */
export function encodeBase62(value: number, width: number): string {
  let n = value;
  let out = '';
  for (let i = 0; i < width; i++) {
    out = BASE62[n % 62]! + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/** The checksum of `body`: CRC32 of its UTF-8 bytes as 6 base62 characters. */
export function checksumOf(body: string): string {
  return encodeBase62(crc32(body), CHECKSUM_LENGTH);
}

/** Whether `candidate` ends with the checksum of what precedes it (the shape is the caller's to check). */
export function hasValidChecksum(candidate: string): boolean {
  const split = candidate.length - CHECKSUM_LENGTH;
  return split >= 0 && checksumOf(candidate.slice(0, split)) === candidate.slice(split);
}
