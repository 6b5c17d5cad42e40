import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Request } from 'express';
import { bearerCredential } from 'src/auth/bearer';
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

  /** The session principal a credential proves, or null. Never throws for a bad credential. */
  async verify(credential: string): Promise<SessionPrincipal | null> {
    if (!this.strategy) return null;
    try {
      const { user, reason } = await runStrategy<SessionPrincipal>(this.strategy, bearerRequest(credential));
      if (!user) this.logger.debug({ reason }, 'session JWT refused');
      return user;
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'session JWT verification failed');
      return null;
    }
  }

  async authenticate(req: Request): Promise<SessionPrincipal> {
    const credential = bearerCredential(req);
    const principal = credential ? await this.verify(credential) : null;
    if (!principal) throw ApiError.unauthorized();
    return principal;
  }
}
