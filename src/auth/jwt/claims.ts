/** Claims every verified JWT payload may carry that we read. */
export interface JwtClaims {
  sub?: unknown;
  exp?: unknown;
  iat?: unknown;
  org_id?: unknown;
  gty?: unknown;
  scope?: unknown;
  scp?: unknown;
  permissions?: unknown;
  roles?: unknown;
  client_id?: unknown;
  azp?: unknown;
  [claim: string]: unknown;
}

/**
 * The scopes a client-credentials token grants, wherever its provider puts them: `scope` (space-separated,
 * or an array as IdentityServer writes it), `scp` (Okta's array; a string elsewhere), `permissions` (Auth0
 * RBAC) and `roles` (Entra ID application permissions).
 */
export function scopesOf(claims: JwtClaims): string[] {
  const scopes = new Set<string>();
  const add = (value: unknown): void => {
    if (typeof value === 'string') value.split(' ').forEach((s) => s && scopes.add(s));
    else if (Array.isArray(value)) value.forEach((s) => typeof s === 'string' && s && scopes.add(s));
  };
  add(claims.scope);
  add(claims.scp);
  add(claims.permissions);
  add(claims.roles);
  return [...scopes];
}

/** Whether a verified payload carries a finite numeric `exp`: jsonwebtoken only checks `exp` when present. */
export function hasExpiry(claims: JwtClaims): claims is JwtClaims & { exp: number } {
  return typeof claims.exp === 'number' && Number.isFinite(claims.exp);
}

/**
 * Whether a verified token's lifetime is plausible: an `iat`, when present, is a number not in the future
 * beyond the clock skew, and `exp` is at most `maxLifetimeSeconds` after it; without `iat`, `exp` is at most
 * that far from now. A token valid for years (or issued "tomorrow") is a mistake or a forgery's tell, and a
 * leaked one would stay usable for as long.
 */
export function plausibleLifetime(
  claims: JwtClaims & { exp: number },
  maxLifetimeSeconds: number,
  nowSeconds: number,
  clockToleranceSeconds: number,
): boolean {
  const { iat, exp } = claims;
  if (iat === undefined) return exp - nowSeconds <= maxLifetimeSeconds;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return false;
  if (iat > nowSeconds + clockToleranceSeconds) return false;
  return exp - iat <= maxLifetimeSeconds;
}
