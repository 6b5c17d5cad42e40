import { ApiError } from 'src/errors/api-error';

/** How long a caller should wait: an operator has to configure the key. */
export const KEY_MISSING_RETRY_AFTER_SECONDS = 60;

/** No master secret is configured (or not the one a row needs): nothing can be encrypted or read. */
export function encryptionKeyMissing(): ApiError {
  return new ApiError('encryption_key_missing', 'Encryption is not configured on this server. Retry later.', {
    retryAfterSeconds: KEY_MISSING_RETRY_AFTER_SECONDS,
  });
}

/**
 * A stored value failed to decrypt: tampered, truncated, copied from another row, or written under another
 * secret for this version. Never answered with the cause: the filter turns it into a generic 500.
 */
export class DecryptionFailedError extends Error {
  constructor(readonly where: string) {
    super(`a value of ${where} failed to decrypt (tampered, truncated, moved, or the wrong key)`);
    this.name = 'DecryptionFailedError';
  }
}

/**
 * The configured secret of a key version is not the one this database's values of that version were written
 * with: the start (and the rewrap) refuses. Names the variable and the version, never a value.
 */
export class KeyCheckMismatchError extends Error {
  constructor(
    readonly variable: 'ENCRYPTION_KEY' | 'ENCRYPTION_KEYS',
    readonly version: number,
    /** `recorded`: differs from the version's check value; `stored`: opens none of the version's rows. */
    readonly against: 'recorded' | 'stored',
  ) {
    super(
      `${variable}: the secret of encryption key version ${version} ` +
        (against === 'recorded'
          ? `is not the one recorded for version ${version} in this database (encryption_key_checks). `
          : `decrypts none of the values stored under version ${version}. `) +
        `Give version ${version} the secret the other instances use (a new secret needs a new version); ` +
        `see docs/operations.md, "Secrets and recovery".`,
    );
    this.name = 'KeyCheckMismatchError';
  }
}
