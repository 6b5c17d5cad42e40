import { defineRateLimit } from 'src/rate-limit/rate-limit-policy';

/**
 * A settings UI user's writes (projects, keys), counted per user: generous for a person, a bound for a
 * script holding someone's session.
 */
export const DEVELOPER_WRITE_RATE_LIMIT = defineRateLimit('developer-write', {
  limit: 60,
  windowSeconds: 60,
  per: 'principal',
});
