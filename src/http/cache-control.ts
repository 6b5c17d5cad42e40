import type { FastifyInstance } from 'fastify';
import type {} from 'src/auth/principal';

/**
 * Every answer to an authenticated request is `Cache-Control: no-store`, not only those that carry a secret:
 * key lists, audit events and whoami are private too, and a shared cache or the browser's disk must keep none
 * of them. The guard sets `request.principal` on every route that is not public, whatever the tier; public
 * routes (health, the JWKS with its own max-age, the provider callback) are left as they declare. Errors are
 * no-store already (the exception filter).
 */
export function registerNoStoreForAuthenticated(instance: FastifyInstance): void {
  instance.addHook('onSend', (request, reply, payload, done) => {
    if (request.principal !== undefined) reply.header('cache-control', 'no-store');
    done(null, payload);
  });
}
