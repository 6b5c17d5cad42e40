import { defineRateLimit } from 'src/rate-limit/rate-limit-policy';

/**
 * Starting a provider login, per client IP: a person links a provider a few times at most; each start writes
 * a session row, so a script holding a session cannot fill the table.
 */
export const OAUTH_START_RATE_LIMIT = defineRateLimit('oauth-start', {
  limit: 5,
  windowSeconds: 60,
  per: 'ip',
});
