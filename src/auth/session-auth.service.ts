import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Request } from 'express';
import { bearerCredential } from 'src/auth/bearer';
import { KeySourceUnavailableError, keysUnavailable } from 'src/auth/jwt-options';
import { bearerRequest, runStrategy } from 'src/auth/passport-runner';
import type { SessionPrincipal } from 'src/auth/principal';
import { SessionJwtStrategy } from 'src/auth/session-jwt.strategy';
import { APP_CONFIG, type AppConfig } from 'src/config/app-config';
import { ApiError } from 'src/errors/api-error';

/**
 * The session tier: off (every session credential refused) unless AUTH_SESSION_JWKS_URI or
 * AUTH_SESSION_SECRET is configured.
 */
@Injectable()
export class SessionAuthService {
  private readonly logger = new Logger('SessionAuth');
  private readonly strategy: SessionJwtStrategy | null;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const { session } = config;
    this.strategy = session.jwksUri || session.secret ? new SessionJwtStrategy(session) : null;
  }

  get enabled(): boolean {
    return this.strategy !== null;
  }

  /**
   * The session principal a credential proves, or null: for callers that have other ways to authenticate
   * (the AdminAuth tiers), where an identity-provider outage must not stop the org-token or ADMIN_TOKEN
   * tiers. An outage is logged and is a null here.
   */
  async verify(credential: string): Promise<SessionPrincipal | null> {
    try {
      return await this.verifyOrThrow(credential);
    } catch (err) {
      // Already logged; the other tiers still get their chance.
      if (err instanceof ApiError && err.type === 'service_unavailable') return null;
      throw err;
    }
  }

  /** For @SessionAuth routes: the principal, 401 for any bad credential, 503 when the keys cannot be fetched. */
  async authenticate(req: Request): Promise<SessionPrincipal> {
    const credential = bearerCredential(req);
    const principal = credential ? await this.verifyOrThrow(credential) : null;
    if (!principal) throw ApiError.unauthorized();
    return principal;
  }

  /** The principal or null; throws 503 `service_unavailable` when the identity provider's keys cannot be fetched. */
  private async verifyOrThrow(credential: string): Promise<SessionPrincipal | null> {
    if (!this.strategy) return null;
    try {
      const { user, reason } = await runStrategy<SessionPrincipal>(this.strategy, bearerRequest(credential));
      if (!user) this.logger.debug({ reason }, 'session JWT refused');
      return user;
    } catch (err) {
      if (err instanceof KeySourceUnavailableError) {
        this.logger.warn({ err: err.message }, 'session JWT keys unavailable');
        throw keysUnavailable();
      }
      this.logger.warn({ err: (err as Error).message }, 'session JWT verification failed');
      return null;
    }
  }
}
