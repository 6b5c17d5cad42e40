import { applyDecorators, RequestMethod, SetMetadata } from '@nestjs/common';
import { METHOD_METADATA } from '@nestjs/common/constants';
import type { Reflector } from '@nestjs/core';
import { ApiForbiddenResponse } from '@nestjs/swagger';

/**
 * The scopes an org token can hold (contract: "Key lifecycle", org tokens). `admin` is everything;
 * `admin:read` is every GET of the admin surface; the rest each open one family of writes.
 */
export const ADMIN_SCOPES = [
  'admin',
  'admin:read',
  'org-tokens:write',
  'api-keys:admin',
  'users:admin',
  'webhooks:admin',
  'audit:read',
] as const;

export type AdminScope = (typeof ADMIN_SCOPES)[number];

/**
 * What a credential without scopes of its own holds: bootstrap, sessions of org admins, `ADMIN_TOKEN` and the
 * deprecated API-key tier (decision 0070).
 */
export const EVERY_ADMIN_SCOPE: readonly AdminScope[] = Object.freeze(['admin'] as const);

export const ADMIN_SCOPE = 'keysmith:admin-scope';

/** A route every admin credential may call, whatever its scopes (whoami: a token may always ask what it is). */
export const ANY_ADMIN_SCOPE = 'any';

/** What the `ADMIN_SCOPE` metadata of a route (or its controller) holds. */
export type DeclaredAdminScope = AdminScope | typeof ANY_ADMIN_SCOPE;

const isAdminScope = (value: string): value is AdminScope =>
  (ADMIN_SCOPES as readonly string[]).includes(value);

/**
 * The org-token scope an `@AdminAuth()` route requires (on the method, or on the controller for all of its
 * routes). Sessions, `ADMIN_TOKEN` and the bootstrap tier hold every scope. A route that declares none needs
 * `admin` (deny by default, decision 0070).
 */
export const RequiresAdminScope = (scope: AdminScope): MethodDecorator & ClassDecorator =>
  applyDecorators(
    SetMetadata(ADMIN_SCOPE, scope satisfies DeclaredAdminScope),
    ApiForbiddenResponse({
      description:
        `The credential lacks the \`${scope}\` scope (\`forbidden\`). ` +
        '`admin` holds every scope, and `admin:read` every GET of the admin surface. ' +
        'Or the session of a disabled user (`identity_not_allowed`, on every admin route).',
    }),
  );

/** An `@AdminAuth()` route any admin credential may call, whatever scopes it holds. */
export const AnyAdminScope = (): MethodDecorator & ClassDecorator =>
  SetMetadata(ADMIN_SCOPE, ANY_ADMIN_SCOPE satisfies DeclaredAdminScope);

/** What an admin route asks of a credential's scopes, read once from its metadata. */
export interface AdminRouteScope {
  /** The declared scope; undefined when neither the method nor the controller declares one. */
  declared: DeclaredAdminScope | undefined;
  /** A GET route (HEAD included, which Fastify serves from it): `admin:read` satisfies it. */
  read: boolean;
}

type ReflectTarget = Parameters<Reflector['getAllAndOverride']>[1][number];

/** The scope of a route handler: its own declaration, else its controller's, and whether it reads. */
export function adminRouteScope(
  reflector: Reflector,
  handler: ReflectTarget,
  controller: ReflectTarget,
): AdminRouteScope {
  const declared = reflector.getAllAndOverride<DeclaredAdminScope | undefined>(ADMIN_SCOPE, [
    handler,
    controller,
  ]);
  const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
  return { declared, read: method === RequestMethod.GET };
}

/** The scope a route requires in the end: its declared one, or `admin` when it declares none. */
export function requiredAdminScope(route: AdminRouteScope): DeclaredAdminScope {
  return route.declared ?? 'admin';
}

/**
 * Whether a credential holding `held` may call a route (decision 0070): `admin` opens every route; the
 * route's own scope opens it; `admin:read` opens every GET route that declares a scope. A route that declares
 * none requires `admin` itself: a forgotten declaration never opens a route to a narrower token.
 */
export function grantsAdminRoute(held: readonly AdminScope[], route: AdminRouteScope): boolean {
  if (route.declared === ANY_ADMIN_SCOPE || held.includes('admin')) return true;
  if (route.declared === undefined) return false;
  return held.includes(route.declared) || (route.read && held.includes('admin:read'));
}

/**
 * The scopes of `wanted` that a credential holding `held` may not hand out (to a token it mints or rolls):
 * `admin` covers every scope; any other scope only itself. Scopes are compared by name, never by what they
 * happen to open today, so a holder of `admin:read` cannot grant `audit:read` (decision 0070).
 */
export function scopesNotHeld(held: readonly AdminScope[], wanted: readonly AdminScope[]): AdminScope[] {
  if (held.includes('admin')) return [];
  return wanted.filter((scope) => !held.includes(scope));
}

/** `scopes` as the database holds them, checked against the catalog (a CHECK constraint keeps them in it). */
export function adminScopesOf(scopes: readonly string[]): readonly AdminScope[] {
  const known = scopes.filter(isAdminScope);
  // An unknown scope would be a row the constraint should have refused: dropped, so it grants nothing.
  return Object.freeze(known);
}

/** `scopes` in catalog order, so that a token's scopes read the same whatever order they were asked in. */
export function inCatalogOrder(scopes: readonly AdminScope[]): AdminScope[] {
  return ADMIN_SCOPES.filter((scope) => scopes.includes(scope));
}
