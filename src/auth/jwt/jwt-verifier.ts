import { Logger } from '@nestjs/common';
import type { Strategy } from 'passport';
import { keysUnavailable } from 'src/auth/jwt/jwt-options';
import { KeySourceUnavailableError } from 'src/auth/jwt/key-set';
import { runStrategy } from 'src/auth/jwt/passport-runner';

/**
 * The one verification path of both JWT tiers (sessions and internal services): runs the tier's passport-jwt
 * strategy on a credential. A bad token is null (the rule that refused it logged at debug level, never the
 * token, never shown to the caller); an issuer whose keys cannot be fetched is a 503 `service_unavailable`
 * with Retry-After, because nothing can be said about the token then.
 */
export class JwtVerifier<T> {
  private readonly logger: Logger;

  constructor(
    private readonly tier: string,
    private readonly strategy: Strategy,
  ) {
    this.logger = new Logger(tier);
  }

  async verify(credential: string): Promise<T | null> {
    try {
      const { user, rule } = await runStrategy<T>(this.strategy, { credential });
      if (!user) this.logger.debug({ rule }, `JWT refused: ${rule ?? 'other'}`);
      return user;
    } catch (err) {
      if (err instanceof KeySourceUnavailableError) {
        this.logger.warn({ err: err.message }, 'JWT signing keys unavailable');
        throw keysUnavailable(err.retryAfterSeconds);
      }
      this.logger.warn({ err: (err as Error).message }, 'JWT verification failed');
      return null;
    }
  }
}
