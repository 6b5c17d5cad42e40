import { defineRateLimit } from 'src/rate-limit/rate-limit-policy';

/**
 * The public revoke endpoint, per client IP, every request counted (it takes no credential): someone holding a
 * leaked key needs one call; the bound is for guessing, which the key's entropy makes hopeless anyway.
 */
export const PUBLIC_REVOKE_RATE_LIMIT = defineRateLimit('public-revoke', {
  limit: 10,
  windowSeconds: 60,
  per: 'ip',
});
