import { generateKeyPairSync } from 'node:crypto';

/** A fresh EC P-256 private key as PEM, for apps started with NODE_ENV=production (TOKEN_SIGNING_KEY). */
export function testSigningKey(): string {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
}
