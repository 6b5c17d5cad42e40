import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Router from 'find-my-way';
import { ApiError } from 'src/errors/api-error';
import { truncateEcho } from 'src/errors/echo-limits';

type RouterOptions = NonNullable<FastifyInstance['initialConfig']['routerOptions']>;

/** The methods each route template serves, matched against a path by a router with Fastify's own options. */
class KnownPaths {
  private readonly methodsByTemplate = new Map<string, Set<string>>();
  private router: Router.Instance<Router.HTTPVersion.V1> | undefined;

  constructor(private readonly options: RouterOptions) {}

  /**
   * Templates the router takes for one (`/api/docs` and `/api/docs/` with the trailing slash ignored) share
   * their methods: find-my-way refuses a second registration of the same path.
   */
  add(template: string, methods: readonly string[]): void {
    let key = template;
    if (this.options.ignoreTrailingSlash && key.length > 1) key = key.replace(/\/$/, '');
    if (this.options.caseSensitive === false) key = key.toLowerCase();
    let known = this.methodsByTemplate.get(key);
    if (!known) this.methodsByTemplate.set(key, (known = new Set()));
    for (const method of methods) known.add(method);
  }

  /**
   * The `Allow` value for `path` when a route serves it with some method, else undefined. Built on the first
   * unmatched request: every route is registered by the time Fastify answers, and none is added afterwards.
   */
  allowed(path: string): string | undefined {
    this.router ??= this.build();
    const match = this.router.find('GET', path);
    if (!match) return undefined;
    // As Nest's adapter does for the routes themselves, an empty parameter matches nothing (`/tokens//x`).
    for (const [name, value] of Object.entries(match.params))
      if (value === '' && name !== '*') return undefined;
    return (match.store as { allow: string }).allow;
  }

  private build(): Router.Instance<Router.HTTPVersion.V1> {
    const { caseSensitive, ignoreTrailingSlash, ignoreDuplicateSlashes, maxParamLength } = this.options;
    const router = Router({ caseSensitive, ignoreTrailingSlash, ignoreDuplicateSlashes, maxParamLength });
    const noop = (): void => undefined;
    for (const [template, methods] of this.methodsByTemplate) {
      router.on('GET', template, noop, { allow: [...methods].sort().join(', ') });
    }
    return router;
  }
}

/** A CORS preflight: left to whatever answers those, never a 405 of ours. */
function isPreflight(request: FastifyRequest): boolean {
  return request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
}

/**
 * A method that a known path does not serve is a 405 `method_not_allowed` with `Allow` listing the methods
 * that path serves (HEAD wherever GET is, as Fastify routes it); a path no route serves stays a 404. Fastify
 * routes by method first, so such a request reaches the not-found handler. This registers an `onRoute` hook
 * that collects every route template with its methods (call it before any route is registered), and returns
 * the check the `onRequest` hook runs on unmatched requests (`request.is404`): it looks the path up among
 * the templates whatever the method, with the router's own options (case, trailing slash, parameter length),
 * and answers the error to pass on, with `Allow` set, or undefined.
 *
 * OPTIONS routes and catch-alls (`*`) do not make a path known: a CORS or wildcard route would otherwise
 * turn every unknown path into a 405. A CORS preflight is left to whatever answers those.
 */
export function knownPathMethods(
  instance: FastifyInstance,
): (request: FastifyRequest, reply: FastifyReply) => ApiError | undefined {
  const { routerOptions = {}, maxParamLength } = instance.initialConfig;
  // Fastify takes the top-level `maxParamLength` when `routerOptions` has none, but fills both in with the
  // default of 100 here: the larger one is the one the router uses.
  const known = new KnownPaths({
    ...routerOptions,
    maxParamLength: Math.max(routerOptions.maxParamLength ?? 0, maxParamLength ?? 0) || undefined,
  });
  instance.addHook('onRoute', (route) => {
    const methods = [route.method].flat().filter((m) => m !== 'OPTIONS');
    if (methods.length && route.url !== '*' && route.url !== '/*') known.add(route.url, methods);
  });
  return (request, reply) => {
    // Only origin-form targets ("/path"): Nest's adapter sends any other form to the not-found handler.
    if (isPreflight(request) || !request.url.startsWith('/')) return undefined;
    const path = request.url.split('?', 1)[0]!;
    const allow = known.allowed(path);
    if (allow === undefined) return undefined;
    void reply.header('allow', allow);
    return new ApiError(
      'method_not_allowed',
      `Method ${truncateEcho(request.method, 20)} is not allowed on ${truncateEcho(path)}.`,
    );
  };
}
