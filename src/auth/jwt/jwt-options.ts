import { createPublicKey, type KeyObject } from 'node:crypto';
import { decode } from 'jsonwebtoken';
import { passportJwtSecret } from 'jwks-rsa';
import { ExtractJwt, type SecretOrKeyProvider, type StrategyOptionsWithoutRequest } from 'passport-jwt';
import type { JwtIssuerConfig } from 'src/auth/auth.config';
import { ApiError } from 'src/errors/api-error';

/** Asymmetric algorithms a JWKS may publish keys for. `none` and HS* are never accepted with a JWKS. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'ES256'] as const;

/**
 * passport-jwt options for an issuer: a cached, rate-limited JWKS (RS256/ES256) or an HS256 secret — never
 * both, so a public key can never be used as an HMAC secret — plus issuer and audience when configured.
 * The token is read from the Authorization header only, never from the query string.
 */
export function jwtStrategyOptions(issuer: JwtIssuerConfig): StrategyOptionsWithoutRequest {
  const common = {
    jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
    ignoreExpiration: false,
    ...(issuer.issuer ? { issuer: issuer.issuer } : {}),
    ...(issuer.audience ? { audience: issuer.audience } : {}),
    jsonWebTokenOptions: { clockTolerance: 5 },
  };
  if (issuer.jwksUri) {
    return {
      ...common,
      algorithms: [...ASYMMETRIC_ALGORITHMS],
      secretOrKeyProvider: withKeyObjects(
        issuer,
        passportJwtSecret({
          jwksUri: issuer.jwksUri,
          cache: true,
          cacheMaxEntries: 10,
          cacheMaxAge: 10 * 60 * 1000,
          // An unknown `kid` triggers a refetch (key rotation), at most this often, so forged kids cannot
          // make us hammer the identity provider.
          rateLimit: true,
          jwksRequestsPerMinute: 10,
          timeout: 5_000,
        }),
      ),
    };
  }
  if (issuer.secret) return { ...common, algorithms: ['HS256'], secretOrKey: issuer.secret };
  throw new Error('jwtStrategyOptions needs a JWKS URI or a secret');
}

/**
 * The identity provider's keys could not be fetched (network error, timeout, HTTP error, an empty set, the
 * refetch budget spent): nothing is known about the token, so the caller gets a 503, not a 401.
 */
export class KeySourceUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`signing keys unavailable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'KeySourceUnavailableError';
  }
}

/** How long a caller should wait when the identity provider's keys cannot be fetched. */
export const KEYS_UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** The identity provider's keys cannot be fetched: nothing can be said about the token. */
export function keysUnavailable(): ApiError {
  return new ApiError('service_unavailable', 'Token verification is unavailable. Retry later.', {
    retryAfterSeconds: KEYS_UNAVAILABLE_RETRY_AFTER_SECONDS,
  });
}

/** Refused before any key lookup. */
const NOT_FOR_US = new Error('issuer or audience mismatch');

/** Whether an unverified token claims our issuer and audience: only then is a key worth fetching. */
function claimsOurs(token: string, issuer: JwtIssuerConfig): boolean {
  const payload = decode(token, { json: true });
  if (!payload) return false;
  if (issuer.issuer !== undefined && payload.iss !== issuer.issuer) return false;
  if (issuer.audience !== undefined) {
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!aud.includes(issuer.audience)) return false;
  }
  return true;
}

/**
 * jwks-rsa hands out PEM strings and jsonwebtoken parses a PEM into a KeyObject on every verification (a
 * tenth of an internal request's CPU under load). A JWKS holds a handful of keys: keep them parsed.
 *
 * Also: a token that does not claim our issuer and audience is refused before the key lookup, so forged
 * `kid`s cannot spend the refetch budget; and a failure to fetch keys (anything but "no key with this
 * kid", which jwks-rsa reports as no key at all) becomes a KeySourceUnavailableError.
 */
function withKeyObjects(issuer: JwtIssuerConfig, provider: SecretOrKeyProvider): SecretOrKeyProvider {
  const parsed = new Map<string, KeyObject>();
  return (req, token, done) => {
    if (!claimsOurs(token as string, issuer)) return done(NOT_FOR_US);
    provider(req, token, (err: unknown, pem?: string | Buffer) => {
      if (err) return done(new KeySourceUnavailableError(err));
      if (typeof pem !== 'string') return done(err, pem);
      let key = parsed.get(pem);
      if (!key) {
        if (parsed.size >= 32) parsed.clear();
        key = createPublicKey(pem);
        parsed.set(pem, key);
      }
      // jsonwebtoken takes a KeyObject as is; passport-jwt's types only know strings and buffers.
      done(null, key as unknown as string);
    });
  };
}
