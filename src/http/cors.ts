import { METHOD_METADATA } from '@nestjs/common/constants';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { KnownPaths } from 'src/http/method-not-allowed';
import { pathOf, RouteTemplates, routerOptionsOf } from 'src/http/route-templates';

/** The key of a route's Fastify `config` that marks it browser-callable. */
const BROWSER_CALLABLE = 'browserCallable';

/** Request headers a settings UI page may send: its bearer token and a JSON body. */
const ALLOW_HEADERS = 'Authorization, Content-Type';
/** Response headers the page may read besides the safelisted ones: the 429's wait and the request id. */
const EXPOSE_HEADERS = 'Retry-After, X-Request-Id';
/** How long a browser may keep a preflight's answer (Chromium caps it at 7200). */
const MAX_AGE_SECONDS = '600';

/**
 * A route the settings UI's page may call from the browser (CORS, for the origins in SETTINGS_UI_ORIGIN):
 * on a controller, every route of it; on a handler, that route. The policy travels with the route: it is
 * Fastify route config (Nest's adapter copies it from the handler), which `browserCors` turns into the
 * preflight table and a hook on these routes only.
 */
export function BrowserCallable(): ClassDecorator & MethodDecorator {
  return ((target: object, _key?: string | symbol, descriptor?: PropertyDescriptor) => {
    if (descriptor) {
      mark(descriptor.value as object);
      return descriptor;
    }
    // A class decorator runs after its methods' decorators: every route handler is known by now.
    const prototype = (target as { prototype: Record<string, unknown> }).prototype;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      const handler = prototype[name];
      if (
        name !== 'constructor' &&
        typeof handler === 'function' &&
        Reflect.hasMetadata(METHOD_METADATA, handler)
      )
        mark(handler);
    }
    return undefined;
  }) as ClassDecorator & MethodDecorator;
}

function mark(handler: object): void {
  const config = (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) as object | undefined) ?? {};
  Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { ...config, [BROWSER_CALLABLE]: true }, handler);
}

/** Whether a controller handler is browser-callable (for the route-permission table). */
export function isBrowserCallable(handler: object): boolean {
  const config = Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) as
    Record<string, unknown> | undefined;
  return config?.[BROWSER_CALLABLE] === true;
}

/** A CORS preflight: an OPTIONS request naming the method it asks for. */
export function isPreflight(request: FastifyRequest): boolean {
  return request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
}

/** A single Origin header naming one of the settings UI's origins (an exact match: both are serialized). */
function allowedOrigin(request: FastifyRequest, origins: ReadonlySet<string>): string | undefined {
  const origin = request.headers.origin;
  return typeof origin === 'string' && origins.has(origin) ? origin : undefined;
}

/**
 * CORS for the settings UI (API.md, "Everywhere"), at no cost to routes that are not browser-callable.
 *
 * - It registers an `onRoute` hook (call it before any route is registered) that gives each
 *   `@BrowserCallable` route its own `onRequest` hook: `Vary: Origin` always, and for a listed origin
 *   `Access-Control-Allow-Origin` echoing it with the exposed headers. No other route runs any of it.
 * - It returns the preflight answer, for the global `onRequest` hook to call on unmatched preflights (no
 *   route serves OPTIONS): on a browser-callable path, 204 with `Vary: Origin`, and for a listed origin the
 *   allow headers; on any other path some route serves, 204 with no CORS header at all; on a path nothing
 *   serves, false (the 404 it would be anyway). A preflight never reaches the guards: it carries no
 *   credential and does no work, so it is neither authenticated nor counted.
 *
 * Never `Access-Control-Allow-Credentials`: the page sends a bearer token, and cookies play no part.
 */
export function browserCors(
  instance: FastifyInstance,
  settingsUiOrigins: readonly string[],
  known: KnownPaths,
): { preflight(request: FastifyRequest, reply: FastifyReply): boolean } {
  const origins = new Set(settingsUiOrigins);
  const callable = new RouteTemplates(routerOptionsOf(instance));

  const allowOrigin: onRequestHookHandler = (request, reply, done) => {
    void reply.header('vary', 'Origin');
    const origin = allowedOrigin(request, origins);
    if (origin !== undefined)
      void reply
        .header('access-control-allow-origin', origin)
        .header('access-control-expose-headers', EXPOSE_HEADERS);
    done();
  };

  instance.addHook('onRoute', (route) => {
    if ((route.config as Record<string, unknown> | undefined)?.[BROWSER_CALLABLE] !== true) return;
    const methods = [route.method].flat().filter((m) => m !== 'HEAD' && m !== 'OPTIONS');
    if (methods.length) callable.add(route.url, methods);
    route.onRequest = [...[route.onRequest ?? []].flat(), allowOrigin];
  });

  return {
    preflight(request, reply) {
      const path = pathOf(request.url);
      if (path === undefined) return false;
      const methods = callable.methodsOf(path);
      if (methods === undefined) {
        if (!known.serves(path)) return false;
        void reply.code(204).send();
        return true;
      }
      void reply.header('vary', 'Origin');
      const origin = allowedOrigin(request, origins);
      if (origin !== undefined) {
        void reply
          .header('access-control-allow-origin', origin)
          .header('access-control-allow-methods', methods)
          .header('access-control-allow-headers', ALLOW_HEADERS)
          .header('access-control-max-age', MAX_AGE_SECONDS);
      }
      void reply.code(204).send();
      return true;
    },
  };
}
