import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-jwt';
import { Actors } from 'src/audit/actors';
import type { JwtIssuerConfig } from 'src/auth/auth.config';
import { clientIdOf, hasExpiry, scopesOf, type JwtClaims } from 'src/auth/jwt/claims';
import { jwtStrategyOptions } from 'src/auth/jwt/jwt-options';
import type { M2MPrincipal } from 'src/auth/principal';

export const M2M_STRATEGY = 'm2m-jwt';

/** What a verified client-credentials token proves, and until when (its `exp`, in ms). */
export interface VerifiedM2MToken extends Omit<M2MPrincipal, 'kind'> {
  expiresAtMs: number;
}

/**
 * Verifies an internal service's client-credentials JWT (JWKS only: RS256/ES256; issuer and audience
 * pinned when configured, which production requires). The scope a route needs is checked by
 * M2MAuthService, so a missing scope can be a 403.
 */
@Injectable()
export class M2MJwtStrategy extends PassportStrategy(Strategy, M2M_STRATEGY) {
  constructor(issuer: JwtIssuerConfig) {
    // JWKS only: never an HS256 secret.
    super(jwtStrategyOptions({ ...issuer, secret: undefined }, 'M2MAuth'));
  }

  validate(payload: JwtClaims): VerifiedM2MToken | false {
    // A token without `exp` would never expire.
    if (!hasExpiry(payload)) return false;
    // A token from a user-facing grant names a person, not a service, even when the issuer is shared.
    const clientId = clientIdOf(payload);
    if (!clientId) return false;
    return {
      clientId,
      scopes: scopesOf(payload),
      actor: Actors.m2m(clientId),
      expiresAtMs: payload.exp * 1000,
    };
  }
}
