import { readFileSync } from 'node:fs';

/** Where test/global-setup.ts leaves the run's pre-generated issuer keys (a JSON array of private JWKs). */
export const ISSUER_KEY_POOL_ENV = 'KEYSMITH_TEST_ISSUER_KEYS';
/** More than any test file starts issuers. */
export const ISSUER_KEY_POOL_SIZE = 8;

let pool: Record<string, unknown>[] | undefined;
let taken = 0;

/**
 * The next pre-generated RS256 private JWK (without a kid), or undefined once this test file has taken them
 * all or outside a Jest run. Jest gives every test file its own module registry, so the issuers of one file
 * always get distinct keys (a "foreign" issuer must not share its key with the trusted one); files reuse the
 * pool, which is harmless: an app only trusts the issuers its own file started.
 */
export function nextIssuerKey(): Record<string, unknown> | undefined {
  const file = process.env[ISSUER_KEY_POOL_ENV];
  if (!file) return undefined;
  pool ??= JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>[];
  return pool[taken++];
}
