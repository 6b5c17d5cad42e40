import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Principal } from 'src/auth/principal';
import { ApiError } from 'src/errors/api-error';

/**
 * The authenticated principal of the route, of the kind its auth decorator requires: `'admin'` behind
 * `@AdminAuth`, `'session'` behind `@SessionAuth`, `'m2m'` behind `@M2MAuth`. The caller's identity is only
 * ever taken from here, never from a body or a query.
 */
export const CurrentPrincipal = createParamDecorator(
  (kind: Principal['kind'], ctx: ExecutionContext): Principal => {
    const principal = ctx.switchToHttp().getRequest<FastifyRequest>().principal;
    // Only reachable if a route pairs this decorator with another auth requirement.
    if (principal?.kind !== kind) throw ApiError.unauthorized();
    return principal;
  },
);

/** The session user of a `@SessionAuth()` route. */
export const SessionUser = (): ParameterDecorator => CurrentPrincipal('session');
