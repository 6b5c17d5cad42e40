import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * A configured secret (ADMIN_TOKEN, METRICS_TOKEN) that presented credentials are compared with in constant
 * time: both sides are SHA-256 digests, of fixed length, so the time depends neither on where they first
 * differ nor on the presented length.
 */
export class SecretMatcher {
  private readonly expected: Buffer;

  constructor(secret: string) {
    this.expected = sha256(secret);
  }

  matches(candidate: string | undefined): boolean {
    return candidate !== undefined && timingSafeEqual(sha256(candidate), this.expected);
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
