import { createPublicKey, type KeyObject } from 'node:crypto';
import { passportJwtSecret } from 'jwks-rsa';
import { ExtractJwt, type SecretOrKeyProvider, type StrategyOptionsWithoutRequest } from 'passport-jwt';
import type { JwtIssuerConfig } from 'src/config/app-config';

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
 * jwks-rsa hands out PEM strings and jsonwebtoken parses a PEM into a KeyObject on every verification (a
 * tenth of an internal request's CPU under load). A JWKS holds a handful of keys: keep them parsed.
 */
function withKeyObjects(provider: SecretOrKeyProvider): SecretOrKeyProvider {
  const parsed = new Map<string, KeyObject>();
  return (req, token, done) =>
    provider(req, token, (err: unknown, pem?: string | Buffer) => {
      if (err || typeof pem !== 'string') return done(err, pem);
      let key = parsed.get(pem);
      if (!key) {
        if (parsed.size >= 32) parsed.clear();
        key = createPublicKey(pem);
        parsed.set(pem, key);
      }
      // jsonwebtoken takes a KeyObject as is; passport-jwt's types only know strings and buffers.
      done(null, key as unknown as string);
    });
}

/** Claims every verified JWT payload may carry that we read. */
export interface JwtClaims {
  sub?: unknown;
  org_id?: unknown;
  gty?: unknown;
  scope?: unknown;
  scp?: unknown;
  permissions?: unknown;
  client_id?: unknown;
  azp?: unknown;
  [claim: string]: unknown;
}
