import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { JwksFetcher } from 'src/auth/jwt/jwks-fetch';
import type { HostResolver } from 'src/http/host-resolver';
import { outboundRequest } from 'src/http/outbound-request';

/** One fetch of the scanner's keys: the deadline for all of it, and the most of the answer that is read. */
export const KEYS_FETCH_TIMEOUT_MS = 5_000;
export const KEYS_MAX_BYTES = 256 * 1024;
/** Key identifiers longer than this are refused before any lookup (GitHub's are 64 hex characters). */
export const MAX_KEY_IDENTIFIER_LENGTH = 256;
/** The signature algorithm of the protocol: ECDSA on NIST P-256 with SHA-256, as a JWS would name it. */
export const SCANNER_ALGORITHM = 'ES256';

/**
 * GitHub's key document, `{public_keys: [{key_identifier, key (PEM), is_current}]}`, as the JWKS the key set
 * reads (`{keys: [{kty, crv, x, y, kid, alg, use}]}`): only EC P-256 public keys with a usable identifier
 * are kept (anything else in the document is skipped; RemoteKeySet refuses a set left with none).
 * `is_current` is not consulted: a report names its key, and a key GitHub still publishes still verifies
 * (it signs with the previous one for a while after a rotation).
 */
export function scannerKeysAsJwks(document: unknown): { keys: JsonWebKey[] } {
  const entries = (document as { public_keys?: unknown } | null)?.public_keys;
  if (!Array.isArray(entries)) throw new Error('the key document has no "public_keys" array');
  const keys: JsonWebKey[] = [];
  for (const entry of entries as Record<string, unknown>[]) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { key_identifier: kid, key: pem } = entry;
    if (typeof kid !== 'string' || kid === '' || kid.length > MAX_KEY_IDENTIFIER_LENGTH) continue;
    if (typeof pem !== 'string') continue;
    let key: KeyObject;
    try {
      key = createPublicKey({ key: pem, format: 'pem' });
    } catch {
      continue;
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') continue;
    const { kty, crv, x, y } = key.export({ format: 'jwk' });
    keys.push({ kty, crv, x, y, kid, alg: SCANNER_ALGORITHM, use: 'sig' });
  }
  return { keys };
}

/**
 * GET the scanner's key document through the one bounded outbound call (src/http/outbound-request.ts): one
 * deadline, a size cap, no redirects, status 200 only. The URL is the operator's (configuration), so any
 * address it resolves to may be called, as with a JWKS URI. GitHub's API wants a User-Agent, and rate-limits
 * anonymous callers: the answer's ETag is kept and sent back (`If-None-Match`), and a 304, which GitHub does
 * not count, serves the document fetched before.
 */
export function scannerKeysFetcher(url: string, resolver: Pick<HostResolver, 'resolve'>): JwksFetcher {
  let last: { etag: string; jwks: { keys: JsonWebKey[] } } | undefined;
  return async () => {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'keysmith' };
    if (last) headers['if-none-match'] = last.etag;
    const result = await outboundRequest(
      {
        url: new URL(url),
        method: 'GET',
        headers,
        timeoutMs: KEYS_FETCH_TIMEOUT_MS,
        maxBodyBytes: KEYS_MAX_BYTES,
        readBody: (status) => status === 200,
      },
      { resolver, refuse: () => undefined },
    );
    if (result.kind !== 'answered') throw new Error(`the key document could not be fetched (${result.kind})`);
    if (result.status === 304 && last) return last.jwks;
    if (result.status !== 200) throw new Error(`the key document's endpoint answered ${result.status}`);
    let document: unknown;
    try {
      document = JSON.parse(result.body.toString('utf8'));
    } catch {
      throw new Error('the key document is not JSON');
    }
    const jwks = scannerKeysAsJwks(document);
    const etag = result.headers.etag;
    last =
      typeof etag === 'string' && etag.length <= 256 && jwks.keys.length > 0 ? { etag, jwks } : undefined;
    return jwks;
  };
}
