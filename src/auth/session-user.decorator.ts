import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { SessionPrincipal } from 'src/auth/principal';
import { ApiError } from 'src/errors/api-error';

/** The session principal of a `@SessionAuth()` route. The user is only ever taken from here, never a body. */
export const SessionUser = createParamDecorator((_: unknown, ctx: ExecutionContext): SessionPrincipal => {
  const principal = ctx.switchToHttp().getRequest<Request>().principal;
  // Only reachable if a route pairs this decorator with another auth requirement.
  if (principal?.kind !== 'session') throw ApiError.unauthorized();
  return principal;
});
