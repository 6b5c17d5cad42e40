import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-jwt';
import { Actors } from 'src/auth/actors';
import type { JwtIssuerConfig } from 'src/auth/auth.config';
import { hasExpiry, plausibleLifetime, type JwtClaims } from 'src/auth/jwt/claims';
import { CLOCK_TOLERANCE_SECONDS, jwtStrategyOptions } from 'src/auth/jwt/jwt-options';
import type { KeySource } from 'src/auth/jwt/key-set';
import { refused, type Refused } from 'src/auth/jwt/refusal';
import { tokenShape } from 'src/auth/jwt/token-shape';
import type { SessionPrincipal } from 'src/auth/principal';

export const SESSION_STRATEGY = 'session-jwt';

/** Verifies a canvas settings UI session JWT; the user is its `sub`. */
@Injectable()
export class SessionJwtStrategy extends PassportStrategy(Strategy, SESSION_STRATEGY) {
  private readonly maxLifetimeSeconds: number;

  /** `localKeys`: the development issuer's key, instead of the issuer's JWKS or secret. */
  constructor(issuer: JwtIssuerConfig, localKeys?: KeySource) {
    super(jwtStrategyOptions(issuer, 'SessionAuth', localKeys));
    this.maxLifetimeSeconds = issuer.maxTokenLifetimeSeconds;
  }

  validate(payload: JwtClaims): SessionPrincipal | Refused {
    // A session without `exp` would never end.
    if (!hasExpiry(payload)) return refused('no-expiry');
    if (!plausibleLifetime(payload, this.maxLifetimeSeconds, Date.now() / 1000, CLOCK_TOLERANCE_SECONDS)) {
      return refused('lifetime');
    }
    const sub = payload.sub;
    if (typeof sub !== 'string' || sub.trim() === '' || sub.length > 255) return refused('no-subject');
    // A client-credentials token (of any recognised shape) names a service, not a person, even when the
    // issuer is shared.
    if (tokenShape(payload).kind === 'client') return refused('client-credentials-token');
    const orgId = typeof payload.org_id === 'string' && payload.org_id !== '' ? payload.org_id : undefined;
    return { kind: 'session', sub, ...(orgId ? { orgId } : {}), actor: Actors.session(sub) };
  }
}
