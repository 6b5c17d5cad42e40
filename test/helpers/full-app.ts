import { rateLimitVariable } from 'src/rate-limit/rate-limit.config';
import { rateLimitPolicies } from 'src/rate-limit/rate-limit-policy';
import type { Env } from 'src/config/env-reader';
import { internalEnv, type TestIssuer } from 'test/helpers/issuers';

export const FULL_ADMIN_TOKEN = 'hardening-admin-token-0123456789abcdefghij';
export const FULL_ENCRYPTION_KEY = 'hardening-encryption-master-secret-0123456789';

/** Every rate-limit policy lifted far above what a suite sends, so limits never answer in place of the route. */
export function roomyRateLimits(): Env {
  return Object.fromEntries(rateLimitPolicies().map((p) => [rateLimitVariable(p), '1000000/60s']));
}

/**
 * Env for an app with every surface on: sessions and M2M (the two issuers), ADMIN_TOKEN, an encryption key,
 * provisioning for the test orgs, and every rate limit lifted.
 */
export function fullEnv(m2m: TestIssuer, session: TestIssuer, extra: Env = {}): Env {
  return {
    ...internalEnv(m2m, session),
    ADMIN_TOKEN: FULL_ADMIN_TOKEN,
    ENCRYPTION_KEY: FULL_ENCRYPTION_KEY,
    ...roomyRateLimits(),
    ...extra,
  };
}
