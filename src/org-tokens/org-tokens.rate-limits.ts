import { defineRateLimit } from 'src/rate-limit/rate-limit-policy';

/**
 * Mints and rolls (each makes a new live token), per client IP, counted after authentication: anonymous
 * attempts must not use up the admins' mints (both routes are also on `admin`, which bounds brute force before
 * authentication).
 */
export const ORG_TOKEN_MINT_RATE_LIMIT = defineRateLimit('org-token-mint', {
  limit: 10,
  windowSeconds: 60 * 60,
  per: 'authenticated-ip',
});
