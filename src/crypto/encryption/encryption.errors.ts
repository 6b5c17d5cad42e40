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
