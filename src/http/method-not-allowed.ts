import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from 'src/errors/api-error';
import { truncateEcho } from 'src/errors/echo-limits';
import { pathOf, RouteTemplates, routerOptionsOf } from 'src/http/route-templates';

/** The paths the app serves, and the 405 for a method a served path does not take. */
export interface KnownPaths {
  /** Whether some route serves `path` (with any method). */
  serves(path: string): boolean;
  /**
   * For an unmatched request (`request.is404`) to a served path: the error to pass on, with `Allow` set;
   * undefined for a path no route serves.
   */
  methodNotAllowed(request: FastifyRequest, reply: FastifyReply): ApiError | undefined;
}

/**
 * A method that a known path does not serve is a 405 `method_not_allowed` with `Allow` listing the methods
 * that path serves (HEAD wherever GET is, as Fastify routes it); a path no route serves stays a 404. Fastify
 * routes by method first, so such a request reaches the not-found handler. This registers an `onRoute` hook
 * that collects every route template with its methods (call it before any route is registered); the
 * `onRequest` hook runs the check on unmatched requests (`request.is404`): it looks the path up among the
 * templates whatever the method, with the router's own options (case, trailing slash, parameter length).
 *
 * OPTIONS routes and catch-alls (`*`) do not make a path known: a CORS or wildcard route would otherwise
 * turn every unknown path into a 405. CORS preflights are answered before this check (src/http/cors.ts).
 */
export function knownPaths(instance: FastifyInstance): KnownPaths {
  const known = new RouteTemplates(routerOptionsOf(instance));
  instance.addHook('onRoute', (route) => {
    const methods = [route.method].flat().filter((m) => m !== 'OPTIONS');
    if (methods.length && route.url !== '*' && route.url !== '/*') known.add(route.url, methods);
  });
  return {
    serves: (path) => known.methodsOf(path) !== undefined,
    methodNotAllowed(request, reply) {
      // Only origin-form targets ("/path"): Nest's adapter sends any other form to the not-found handler.
      const path = pathOf(request.url);
      if (path === undefined) return undefined;
      const allow = known.methodsOf(path);
      if (allow === undefined) return undefined;
      void reply.header('allow', allow);
      return new ApiError(
        'method_not_allowed',
        `Method ${truncateEcho(request.method, 20)} is not allowed on ${truncateEcho(path)}.`,
      );
    },
  };
}
