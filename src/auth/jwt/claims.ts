/** Claims every verified JWT payload may carry that we read. */
export interface JwtClaims {
  sub?: unknown;
  exp?: unknown;
  org_id?: unknown;
  gty?: unknown;
  scope?: unknown;
  scp?: unknown;
  permissions?: unknown;
  client_id?: unknown;
  azp?: unknown;
  [claim: string]: unknown;
}

/** The scopes a client-credentials token grants: `scope` (space-separated), or the `scp`/`permissions` arrays. */
export function scopesOf(claims: JwtClaims): string[] {
  const scopes = new Set<string>();
  const add = (value: unknown): void => {
    if (typeof value === 'string') value.split(' ').forEach((s) => s && scopes.add(s));
    else if (Array.isArray(value)) value.forEach((s) => typeof s === 'string' && s && scopes.add(s));
  };
  add(claims.scope);
  add(claims.scp);
  add(claims.permissions);
  return [...scopes];
}

const nonEmpty = (value: unknown): value is string =>
  typeof value === 'string' && value.trim() !== '' && value.length <= 255;

/**
 * The client a client-credentials token names, or undefined when the token does not positively look like
 * one: `gty: "client-credentials"` (Auth0), `sub` equal to `client_id` or `azp` (RFC 9068: for a
 * client-credentials grant the subject is the client itself), or a `sub` ending in `@clients` (Auth0 M2M).
 * A token from a user-facing grant of the same authorization server names a person in `sub` and is refused,
 * whether or not it carries `gty`.
 */
export function clientIdOf(claims: JwtClaims): string | undefined {
  const { sub, client_id: clientId, azp, gty } = claims;
  if (gty !== undefined && gty !== 'client-credentials') return undefined;
  const named = [clientId, azp, sub].find(nonEmpty);
  if (!named) return undefined;
  if (gty === 'client-credentials') return named;
  if (nonEmpty(sub) && (sub === clientId || sub === azp || sub.endsWith('@clients'))) return named;
  return undefined;
}

/** Whether a verified payload carries a finite numeric `exp`: jsonwebtoken only checks `exp` when present. */
export function hasExpiry(claims: JwtClaims): claims is JwtClaims & { exp: number } {
  return typeof claims.exp === 'number' && Number.isFinite(claims.exp);
}
