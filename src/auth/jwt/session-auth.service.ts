import { Inject, Injectable, Optional } from '@nestjs/common';
import { authConfig, type AuthConfig } from 'src/auth/auth.config';
import {
  DEVELOPMENT_ISSUER,
  DEVELOPMENT_SESSION_AUDIENCE,
} from 'src/auth/development-issuer/development-issuer';
import { DevelopmentIssuerService } from 'src/auth/development-issuer/development-issuer.service';
import { JwtVerifier } from 'src/auth/jwt/jwt-verifier';
import { SessionJwtStrategy } from 'src/auth/jwt/session-jwt.strategy';
import type { SessionPrincipal } from 'src/auth/principal';
import { ApiError } from 'src/errors/api-error';

/**
 * The session tier: off (every session credential refused) unless AUTH_SESSION_JWKS_URI or
 * AUTH_SESSION_SECRET is configured, or the development issuer is on (then only its tokens pass).
 */
@Injectable()
export class SessionAuthService {
  private readonly verifier: JwtVerifier<SessionPrincipal> | null;

  constructor(
    @Inject(authConfig.KEY) { session, developmentIssuer }: AuthConfig,
    // Absent where a tier is built by hand (benchmarks): then the development issuer must be off.
    @Optional() development?: DevelopmentIssuerService,
  ) {
    if (developmentIssuer && development) {
      const issuer = { ...session, issuer: DEVELOPMENT_ISSUER, audiences: [DEVELOPMENT_SESSION_AUDIENCE] };
      this.verifier = new JwtVerifier('SessionAuth', new SessionJwtStrategy(issuer, development));
    } else {
      this.verifier =
        session.jwksUri || session.secret
          ? new JwtVerifier('SessionAuth', new SessionJwtStrategy(session))
          : null;
    }
  }

  get enabled(): boolean {
    return this.verifier !== null;
  }

  /**
   * The session principal a credential proves, or null: for callers that have other ways to authenticate
   * (the AdminAuth tiers), where an identity-provider outage must not stop the org-token or ADMIN_TOKEN
   * tiers. An outage (already logged) is a null here.
   */
  async verify(credential: string): Promise<SessionPrincipal | null> {
    try {
      return (await this.verifier?.verify(credential)) ?? null;
    } catch (err) {
      if (err instanceof ApiError && err.type === 'service_unavailable') return null;
      throw err;
    }
  }

  /** For @SessionAuth routes: the principal, 401 for any bad credential, 503 when the keys cannot be fetched. */
  async authenticate(credential: string | undefined): Promise<SessionPrincipal> {
    const principal = credential && this.verifier ? await this.verifier.verify(credential) : null;
    if (!principal) throw ApiError.unauthorized();
    return principal;
  }
}
