import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-jwt';
import { Actors } from 'src/auth/actors';
import type { M2MIssuerConfig } from 'src/auth/auth.config';
import { hasExpiry, plausibleLifetime, scopesOf, type JwtClaims } from 'src/auth/jwt/claims';
import { CLOCK_TOLERANCE_SECONDS, jwtStrategyOptions } from 'src/auth/jwt/jwt-options';
import type { KeySource } from 'src/auth/jwt/key-set';
import { refused, type JwtRefusalRule, type Refused } from 'src/auth/jwt/refusal';
import { tokenShape } from 'src/auth/jwt/token-shape';
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
  private readonly trustedClients: ReadonlySet<string>;
  private readonly maxLifetimeSeconds: number;

  /** `localKeys`: the development issuer's key, instead of the issuer's JWKS. */
  constructor(issuer: M2MIssuerConfig, localKeys?: KeySource) {
    // JWKS (or the development key) only: never an HS256 secret.
    super(jwtStrategyOptions({ ...issuer, secret: undefined }, 'M2MAuth', localKeys));
    this.trustedClients = new Set(issuer.trustedClientIds);
    this.maxLifetimeSeconds = issuer.maxTokenLifetimeSeconds;
  }

  validate(payload: JwtClaims): VerifiedM2MToken | Refused {
    // A token without `exp` would never expire.
    if (!hasExpiry(payload)) return refused('no-expiry');
    if (!plausibleLifetime(payload, this.maxLifetimeSeconds, Date.now() / 1000, CLOCK_TOLERANCE_SECONDS)) {
      return refused('lifetime');
    }
    const client = this.clientOf(payload);
    if (client.refused) return refused(client.refused);
    const { clientId } = client;
    return {
      clientId,
      scopes: scopesOf(payload),
      actor: Actors.m2m(clientId),
      expiresAtMs: payload.exp * 1000,
    };
  }

  /**
   * The client a token is a client-credentials token of: a recognised shape names it; where the shape
   * cannot tell, AUTH_M2M_CLIENT_IDS does, unless the token carries signs of a person's sign-in. A token
   * from a user-facing grant names a person, not a service, even when the issuer is shared.
   */
  private clientOf(
    payload: JwtClaims,
  ): { clientId: string; refused?: undefined } | { refused: JwtRefusalRule } {
    const shape = tokenShape(payload);
    switch (shape.kind) {
      case 'client':
        return { clientId: shape.clientId };
      case 'unknown':
        if (shape.clientId === undefined || shape.endUser) return { refused: 'not-client-credentials' };
        return this.trustedClients.has(shape.clientId)
          ? { clientId: shape.clientId }
          : { refused: 'client-not-trusted' };
      case 'person':
        return { refused: 'not-client-credentials' };
    }
  }
}
