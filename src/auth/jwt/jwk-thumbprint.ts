import { createHash, type JsonWebKey } from 'node:crypto';

/** RFC 7638 JWK thumbprint (SHA-256, base64url): a stable `kid` derived from a public key. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}
