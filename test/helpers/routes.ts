import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import { ModulesContainer, Reflector } from '@nestjs/core';
import { adminRouteScope, type AdminRouteScope } from 'src/auth/admin/admin-scopes';
import { AUTH_REQUIREMENT, type AuthRequirement } from 'src/auth/auth.decorators';
import { BODY_LIMIT, rawBodyLimitOf } from 'src/http/body-parsing';
import { isBrowserCallable } from 'src/http/cors';
import { routeRateLimits } from 'src/rate-limit/rate-limit.decorator';
import type { TestApp } from 'test/helpers/app';

/** One controller route of a running app, with what the app declares about it. */
export interface ControllerRoute {
  method: keyof typeof RequestMethod;
  /** Express form, e.g. `/api/v1/org/tokens/:id`. */
  path: string;
  auth: AuthRequirement | undefined;
  /** An admin route's org-token scope, as the guard reads it (undefined for other routes). */
  adminScope: AdminRouteScope | undefined;
  /** The names of the rate-limit policies the route counts against. */
  buckets: string[];
  /** Whether the settings UI's page may call it from the browser (CORS, `@BrowserCallable`). */
  browserCallable: boolean;
  /** The largest body it reads: BODY_LIMIT, or a `@RawBody` route's own cap. */
  bodyLimit: number;
}

const joinPath = (...parts: string[]): string =>
  `/${parts
    .flatMap((p) => p.split('/'))
    .filter(Boolean)
    .join('/')}`;

/** Every controller route of the running app, sorted by `METHOD /path`. */
export function controllerRoutes(t: TestApp): ControllerRoute[] {
  const reflector = new Reflector();
  const routes: ControllerRoute[] = [];
  for (const module of t.app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: never[]) => object) | null;
      if (!controller) continue;
      const base = (Reflect.getMetadata(PATH_METADATA, controller) as string | undefined) ?? '';
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = (controller.prototype as Record<string, unknown>)[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        const path = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (path === undefined || method === undefined) continue;
        const auth = reflector.getAllAndOverride<AuthRequirement | undefined>(AUTH_REQUIREMENT, [
          handler,
          controller,
        ]);
        // The guards' own answer, so the table cannot drift from what is enforced.
        const buckets = routeRateLimits(reflector, handler, controller).map((p) => p.name);
        for (const p of Array.isArray(path) ? path : [path]) {
          routes.push({
            method: RequestMethod[method] as keyof typeof RequestMethod,
            path: joinPath(base, p),
            auth,
            adminScope: auth?.kind === 'admin' ? adminRouteScope(reflector, handler, controller) : undefined,
            buckets,
            browserCallable: isBrowserCallable(handler),
            bodyLimit:
              rawBodyLimitOf(Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler)) ?? BODY_LIMIT,
          });
        }
      }
    }
  }
  const key = (r: ControllerRoute): string => `${r.method} ${r.path}`;
  return routes.sort((a, b) => key(a).localeCompare(key(b)));
}
