import { Logger } from '@nestjs/common';
import { decode } from 'jsonwebtoken';
import type { SecretOrKeyProvider, StrategyOptionsWithoutRequest } from 'passport-jwt';
import type { JwtIssuerConfig } from 'src/auth/auth.config';
import { httpJwksFetcher } from 'src/auth/jwt/jwks-fetch';
import { RemoteKeySet, type KeySource } from 'src/auth/jwt/key-set';
import type { CredentialAttempt } from 'src/auth/jwt/passport-runner';
import { JwtRefusal, type JwtRefusalRule } from 'src/auth/jwt/refusal';
import { ApiError } from 'src/errors/api-error';

/** Asymmetric algorithms a JWKS may publish keys for. `none` and HS* are never accepted with a JWKS. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'ES256'] as const;

/** Clock skew allowed on `exp`, `nbf` and `iat` (seconds). */
export const CLOCK_TOLERANCE_SECONDS = 5;

/** A fetched key set is refreshed (in the background, its keys still served) once it is this old. */
const KEY_SET_MAX_AGE_MS = 10 * 60 * 1000;
const JWKS_FETCH_TIMEOUT_MS = 5_000;
const JWKS_MAX_BYTES = 256 * 1024;

/**
 * passport-jwt options for an issuer: a JWKS key set (RS256/ES256), a local key source (the development
 * issuer's key, ES256) or an HS256 secret — never two, so a public key can never be used as an HMAC secret —
 * plus issuer and audience when configured. The token is the credential the auth guard read from the
 * Authorization header (`bearerCredential`), handed over as it is (`CredentialAttempt`): never the query
 * string, and not a made-up header for passport-jwt to parse a second time.
 */
export function jwtStrategyOptions(
  issuer: JwtIssuerConfig,
  tier: string,
  localKeys?: KeySource,
): StrategyOptionsWithoutRequest {
  const common = {
    jwtFromRequest: (attempt: CredentialAttempt) => attempt.credential,
    ignoreExpiration: false,
    ...(issuer.issuer ? { issuer: issuer.issuer } : {}),
    ...(issuer.audiences.length ? { audience: [...issuer.audiences] } : {}),
    jsonWebTokenOptions: { clockTolerance: CLOCK_TOLERANCE_SECONDS },
  };
  if (localKeys) {
    return {
      ...common,
      algorithms: [...ASYMMETRIC_ALGORITHMS],
      secretOrKeyProvider: keyProvider(issuer, localKeys),
    };
  }
  if (issuer.jwksUri) {
    const logger = new Logger(tier);
    const keys = new RemoteKeySet({
      fetch: httpJwksFetcher(issuer.jwksUri, { timeoutMs: JWKS_FETCH_TIMEOUT_MS, maxBytes: JWKS_MAX_BYTES }),
      refetchIntervalMs: issuer.jwksRefetchIntervalSeconds * 1000,
      maxAgeMs: KEY_SET_MAX_AGE_MS,
      algorithms: ASYMMETRIC_ALGORITHMS,
      onFetchFailed: (err) =>
        logger.warn({ err: err.message }, 'JWKS fetch failed; the last good key set (if any) stays in use'),
    });
    return {
      ...common,
      algorithms: [...ASYMMETRIC_ALGORITHMS],
      secretOrKeyProvider: keyProvider(issuer, keys),
    };
  }
  if (issuer.secret) return { ...common, algorithms: ['HS256'], secretOrKey: issuer.secret };
  throw new Error('jwtStrategyOptions needs a JWKS URI or a secret');
}

/**
 * The identity provider's keys cannot be fetched: nothing can be said about the token. Retry-After is when
 * the key set will try again.
 */
export function keysUnavailable(retryAfterSeconds: number): ApiError {
  return new ApiError('service_unavailable', 'Token verification is unavailable. Retry later.', {
    retryAfterSeconds,
  });
}

const MAX_KID_LENGTH = 256;

/**
 * The header of an unverified token that claims our issuer and audience with a pinned algorithm, or the
 * rule it breaks: only such a token is worth a key lookup (and so, possibly, a fetch).
 */
function headerWorthALookup(
  token: string,
  issuer: JwtIssuerConfig,
): { kid: string | undefined; alg: string } | JwtRefusalRule {
  const decoded = decode(token, { complete: true, json: true });
  if (!decoded || typeof decoded.payload !== 'object') return 'malformed';
  const { header, payload } = decoded;
  if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(header.alg)) return 'algorithm';
  if (header.kid !== undefined && (typeof header.kid !== 'string' || header.kid.length > MAX_KID_LENGTH)) {
    return 'bad-kid';
  }
  if (issuer.issuer !== undefined && payload.iss !== issuer.issuer) return 'issuer';
  if (issuer.audiences.length) {
    // An array `aud` passes when any of its entries is one of ours (as jsonwebtoken then checks it too).
    const aud: unknown[] = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!aud.some((entry) => typeof entry === 'string' && issuer.audiences.includes(entry))) {
      return 'audience';
    }
  }
  return { kid: header.kid, alg: header.alg };
}

/**
 * passport-jwt's key lookup: a token that does not claim our issuer and audience (or names an algorithm we do
 * not pin) is refused before the lookup, with the rule it breaks; the others get their key from the key set,
 * as a KeyObject parsed once per fetch. This is the one place the token is decoded before jsonwebtoken's
 * `verify` decodes it again: passport-jwt hands the provider only the raw token, and jsonwebtoken neither
 * takes a decoded token nor shows its key callback the payload (decision 0046). "No such key" is a plain refusal; keys that cannot be fetched are a
 * KeySourceUnavailableError, which the verifier answers with a 503.
 */
function keyProvider(issuer: JwtIssuerConfig, keys: KeySource): SecretOrKeyProvider {
  return (_req, token, done) => {
    const header = headerWorthALookup(token as string, issuer);
    if (typeof header === 'string') return done(new JwtRefusal(header));
    keys.keyFor(header.kid, header.alg).then(
      // jsonwebtoken takes a KeyObject as is; passport-jwt's types only know strings and buffers.
      (key) => done(null, key as unknown as string),
      (err: unknown) => done(err as Error),
    );
  };
}
