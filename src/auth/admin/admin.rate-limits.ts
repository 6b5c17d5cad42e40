import { defineRateLimit } from 'src/rate-limit/rate-limit-policy';

/** Every `@AdminAuth` route, unless it names its own policies: per client IP, before authentication. */
export const ADMIN_RATE_LIMIT = defineRateLimit('admin', { limit: 300, windowSeconds: 60, per: 'ip' });
