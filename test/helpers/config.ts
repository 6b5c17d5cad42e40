import { generateKeyPairSync } from 'node:crypto';
import { ConfigValidationError } from 'src/config/env-reader';

/** What a configuration load refuses: the problems of its ConfigValidationError, or none when it loads. */
export function configProblems(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigValidationError) return err.problems;
    throw err;
  }
  return [];
}

/** A fresh EC P-256 private key as PEM, for NODE_ENV=production (TOKEN_SIGNING_KEY). */
export function testSigningKey(): string {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
}
