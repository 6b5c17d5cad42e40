import { defineRateLimit } from 'src/rate-limit/rate-limit-policy';

/** Provisioning calls, per M2M client. */
export const PROVISION_RATE_LIMIT = defineRateLimit('provision', {
  limit: 60,
  windowSeconds: 60,
  per: 'principal',
});
