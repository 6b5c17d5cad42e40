import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-jwt';
import { jwtStrategyOptions, type JwtClaims } from 'src/auth/jwt-options';
import type { M2MPrincipal } from 'src/auth/principal';
import type { JwtIssuerConfig } from 'src/config/app-config';

export const M2M_STRATEGY = 'm2m-jwt';

/** What a verified client-credentials token proves, and until when (its `exp`, in ms). */
export interface VerifiedM2MToken extends Omit<M2MPrincipal, 'kind'> {
  expiresAtMs: number;
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

/**
 * Verifies an internal service's client-credentials JWT (JWKS only: RS256/ES256; issuer and audience
 * pinned when configured, which production requires). The scope a route needs is checked by
 * M2MAuthService, so a missing scope can be a 403.
 */
@Injectable()
export class M2MJwtStrategy extends PassportStrategy(Strategy, M2M_STRATEGY) {
  constructor(issuer: JwtIssuerConfig) {
    super(jwtStrategyOptions({ jwksUri: issuer.jwksUri, issuer: issuer.issuer, audience: issuer.audience }));
  }

  validate(payload: JwtClaims): VerifiedM2MToken | false {
    // jsonwebtoken only checks `exp` when present: a token without one would never expire.
    if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) return false;
    // A token from a user-facing grant names a person, not a service, even when the issuer is shared.
    const clientId = clientIdOf(payload);
    if (!clientId) return false;
    return { clientId, scopes: scopesOf(payload), actor: `m2m:${clientId}`, expiresAtMs: payload.exp * 1000 };
  }
}
