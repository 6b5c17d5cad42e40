import { defineRateLimit } from 'src/rate-limit/rate-limit-policy';

/**
 * Starting a provider login, per client IP, counted only once the request authenticated: a person links a
 * provider a few times at most, each start writes a session row, and strangers on the same address (a
 * shared NAT, an office) cannot use up that person's budget with anonymous requests.
 */
export const OAUTH_START_RATE_LIMIT = defineRateLimit('oauth-start', {
  limit: 5,
  windowSeconds: 60,
  per: 'authenticated-ip',
});

/** Starting a provider login, per session user: one user's starts from many addresses are bounded too. */
export const OAUTH_START_USER_RATE_LIMIT = defineRateLimit('oauth-start-user', {
  limit: 5,
  windowSeconds: 60,
  per: 'principal',
});

/**
 * The provider's redirect, per client IP: the route is public, and each request may look up a state and call
 * the provider. A person comes back a handful of times; a script guessing states or replaying links does not
 * get to hammer the database or the provider.
 */
export const OAUTH_CALLBACK_RATE_LIMIT = defineRateLimit('oauth-callback', {
  limit: 30,
  windowSeconds: 60,
  per: 'ip',
});
