import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { hash } from 'node:crypto';
import { authConfig, type AuthConfig } from 'src/auth/auth.config';
import { DEVELOPMENT_ISSUER, DEVELOPMENT_M2M_AUDIENCE } from 'src/auth/development-issuer/development-issuer';
import { DevelopmentIssuerService } from 'src/auth/development-issuer/development-issuer.service';
import { JwtVerifier } from 'src/auth/jwt/jwt-verifier';
import { M2MJwtStrategy, type VerifiedM2MToken } from 'src/auth/jwt/m2m-jwt.strategy';
import type { M2MPrincipal } from 'src/auth/principal';
import { ApiError } from 'src/errors/api-error';

const VERIFIED_TTL_MS = 60_000;
/** The memo's key for a token: its SHA-256 (one-shot, no Hash object per request), never the token. */
const memoKey = (credential: string): string => hash('sha256', credential, 'base64url');
function principal({ clientId, scopes, actor }: VerifiedM2MToken): M2MPrincipal {
  return { kind: 'm2m', clientId, scopes, actor };
}

/**
 * Internal services: a client-credentials JWT verified against AUTH_M2M_JWKS_URI, pinned to AUTH_M2M_ISSUER
 * and AUTH_M2M_AUDIENCE (all three required; otherwise every internal call is a 401), or, when the development
 * issuer is on (decision 0045), against its key with its issuer and M2M audience. The session tier has
 * its own issuer, audience and keys, so a session token never passes here and an M2M token never passes
 * there. Any verification failure is the one 401; a verified token without the route's scope is a 403.
 */
@Injectable()
export class M2MAuthService {
  private readonly logger = new Logger('M2MAuth');
  private readonly verifier: JwtVerifier<VerifiedM2MToken> | null = null;
  /**
   * Internal callers present the same token on every request until it expires: a token that verified is
   * remembered (by its SHA-256) for at most a minute and never past its `exp`, so the signature check runs
   * once per token per minute rather than once per request. Only byte-identical tokens hit.
   */
  private readonly verified = new LRUCache<string, VerifiedM2MToken>({ max: 1_000, ttl: VERIFIED_TTL_MS });

  constructor(
    @Inject(authConfig.KEY) { m2m, developmentIssuer }: AuthConfig,
    // Absent where a tier is built by hand (benchmarks): then the development issuer must be off.
    @Optional() development?: DevelopmentIssuerService,
  ) {
    if (developmentIssuer && development) {
      const issuer = { ...m2m, issuer: DEVELOPMENT_ISSUER, audiences: [DEVELOPMENT_M2M_AUDIENCE] };
      this.verifier = new JwtVerifier('M2MAuth', new M2MJwtStrategy(issuer, development));
    } else if (m2m.jwksUri && m2m.issuer && m2m.audiences.length) {
      this.verifier = new JwtVerifier('M2MAuth', new M2MJwtStrategy(m2m));
    } else if (m2m.jwksUri || m2m.issuer || m2m.audiences.length) {
      this.logger.warn(
        'AUTH_M2M_JWKS_URI, AUTH_M2M_ISSUER and AUTH_M2M_AUDIENCE must all be set: internal routes answer 401',
      );
    }
  }

  get enabled(): boolean {
    return this.verifier !== null;
  }

  /**
   * The principal a credential proves (whatever its scopes), or null. Never throws for a bad credential;
   * throws 503 `service_unavailable` (with Retry-After) when the issuer's keys cannot be fetched.
   */
  async verify(credential: string): Promise<M2MPrincipal | null> {
    if (!this.verifier) return null;
    const cacheKey = memoKey(credential);
    return this.remembered(cacheKey) ?? this.verifyAndRemember(this.verifier, credential, cacheKey);
  }

  /**
   * For @M2MAuth routes: the principal; 401 for a bad credential, 403 without `scope`, 503 without keys. A
   * remembered token (every call but the first of a minute) is answered synchronously, without a promise.
   */
  authenticate(credential: string | undefined, scope: string): M2MPrincipal | Promise<M2MPrincipal> {
    if (!credential || !this.verifier) throw ApiError.unauthorized();
    const cacheKey = memoKey(credential);
    const remembered = this.remembered(cacheKey);
    if (remembered) return this.withScope(remembered, scope);
    return this.verifyAndRemember(this.verifier, credential, cacheKey).then((principal) =>
      this.withScope(principal, scope),
    );
  }

  /** The principal, if it holds `scope`: 401 without a principal, 403 without the scope. */
  private withScope(principal: M2MPrincipal | null, scope: string): M2MPrincipal {
    if (!principal) throw ApiError.unauthorized();
    if (!principal.scopes.includes(scope)) {
      this.logger.debug(
        { rule: 'scope', clientId: principal.clientId, scope },
        `JWT refused: scope (the route needs ${scope})`,
      );
      throw ApiError.forbidden(`The token lacks the ${scope} scope.`);
    }
    return principal;
  }

  /** The principal of a token that verified less than a minute ago (and has not expired), else undefined. */
  private remembered(cacheKey: string): M2MPrincipal | undefined {
    const known = this.verified.get(cacheKey);
    return known && known.expiresAtMs > Date.now() ? principal(known) : undefined;
  }

  private async verifyAndRemember(
    verifier: JwtVerifier<VerifiedM2MToken>,
    credential: string,
    cacheKey: string,
  ): Promise<M2MPrincipal | null> {
    const token = await verifier.verify(credential);
    if (!token) return null;
    // The strategy refuses tokens without `exp`; a verified token is never remembered past it.
    const ttl = Math.min(VERIFIED_TTL_MS, token.expiresAtMs - Date.now());
    if (ttl > 0) this.verified.set(cacheKey, token, { ttl });
    return principal(token);
  }
}
