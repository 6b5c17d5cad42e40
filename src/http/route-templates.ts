import type { FastifyInstance } from 'fastify';
import Router from 'find-my-way';

export type RouterOptions = NonNullable<FastifyInstance['initialConfig']['routerOptions']>;

/**
 * The router options Fastify routes with. Fastify takes the top-level `maxParamLength` when `routerOptions`
 * has none, but fills both in with the default of 100 here: the larger one is the one the router uses.
 */
export function routerOptionsOf(instance: FastifyInstance): RouterOptions {
  const { routerOptions = {}, maxParamLength } = instance.initialConfig;
  return {
    ...routerOptions,
    maxParamLength: Math.max(routerOptions.maxParamLength ?? 0, maxParamLength ?? 0) || undefined,
  };
}

/**
 * Route templates with the methods each is served with, matched against a path by a router with Fastify's
 * own options (case, trailing slash, parameter length), whatever the request's method: for answers about a
 * path rather than a route (405 `Allow`, CORS preflights).
 */
export class RouteTemplates {
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
   * The methods (sorted, comma-separated) of the template that matches `path`, else undefined. Built on the
   * first lookup: every route is registered by the time Fastify answers, and none is added afterwards.
   */
  methodsOf(path: string): string | undefined {
    this.router ??= this.build();
    const match = this.router.find('GET', path);
    if (!match) return undefined;
    // As Nest's adapter does for the routes themselves, an empty parameter matches nothing (`/tokens//x`).
    for (const [name, value] of Object.entries(match.params))
      if (value === '' && name !== '*') return undefined;
    return (match.store as { methods: string }).methods;
  }

  private build(): Router.Instance<Router.HTTPVersion.V1> {
    const { caseSensitive, ignoreTrailingSlash, ignoreDuplicateSlashes, maxParamLength } = this.options;
    const router = Router({ caseSensitive, ignoreTrailingSlash, ignoreDuplicateSlashes, maxParamLength });
    const noop = (): void => undefined;
    for (const [template, methods] of this.methodsByTemplate) {
      router.on('GET', template, noop, { methods: [...methods].sort().join(', ') });
    }
    return router;
  }
}

/** The path of an origin-form request target (`/path?query`), else undefined. */
export function pathOf(url: string): string | undefined {
  return url.startsWith('/') ? url.split('?', 1)[0]! : undefined;
}
