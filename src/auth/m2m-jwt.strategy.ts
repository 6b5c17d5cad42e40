import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-jwt';
import { jwtStrategyOptions, type JwtClaims } from 'src/auth/jwt-options';
import type { M2MPrincipal } from 'src/auth/principal';
import type { JwtIssuerConfig } from 'src/config/app-config';

export const M2M_STRATEGY = 'm2m-jwt';

/** What a verified client-credentials token proves, and until when (its `exp`, in ms). */
export interface VerifiedM2MToken extends Omit<M2MPrincipal, 'kind'> {
  expiresAtMs?: number;
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

/** Authorization servers name the client in `client_id` (RFC 9068), `azp` (OIDC) or `sub` (Auth0 M2M). */
export function clientIdOf(claims: JwtClaims): string | undefined {
  for (const value of [claims.client_id, claims.azp, claims.sub]) {
    if (typeof value === 'string' && value.trim() !== '' && value.length <= 255) return value;
  }
  return undefined;
}

/**
 * Verifies an internal service's client-credentials JWT (JWKS only: RS256/ES256, issuer and audience
 * pinned). The scope a route needs is checked by M2MAuthService, so a missing scope can be a 403.
 */
@Injectable()
export class M2MJwtStrategy extends PassportStrategy(Strategy, M2M_STRATEGY) {
  constructor(issuer: JwtIssuerConfig) {
    super(jwtStrategyOptions({ jwksUri: issuer.jwksUri, issuer: issuer.issuer, audience: issuer.audience }));
  }

  validate(payload: JwtClaims): VerifiedM2MToken | false {
    // A token from a user-facing grant names a person, not a service, even when the issuer is shared.
    if (payload.gty !== undefined && payload.gty !== 'client-credentials') return false;
    const clientId = clientIdOf(payload);
    if (!clientId) return false;
    const exp = typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
    return { clientId, scopes: scopesOf(payload), actor: `m2m:${clientId}`, expiresAtMs: exp };
  }
}
