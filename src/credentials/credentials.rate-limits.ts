import { defineRateLimit } from 'src/rate-limit/rate-limit-policy';

/**
 * Access-token requests, per M2M client. A runtime asks once per tool call at most, and most answers come
 * from the cache; the bound is for a client gone wrong, which would otherwise drive refreshes upstream.
 */
export const CREDENTIALS_ACCESS_TOKEN_RATE_LIMIT = defineRateLimit('credentials-access-token', {
  limit: 600,
  windowSeconds: 60,
  per: 'principal',
});
