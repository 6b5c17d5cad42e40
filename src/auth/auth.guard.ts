import { Injectable, Logger, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AdminAuthService } from 'src/auth/admin/admin-auth.service';
import { adminRouteScope, type AdminRouteScope } from 'src/auth/admin/admin-scopes';
import { AUTH_REQUIREMENT, type AuthRequirement } from 'src/auth/auth.decorators';
import { bearerCredential } from 'src/auth/bearer';
import { M2MAuthService } from 'src/auth/jwt/m2m-auth.service';
import { MetricsAuthService } from 'src/auth/metrics-auth.service';
import { SessionAuthService } from 'src/auth/jwt/session-auth.service';
import type { Principal } from 'src/auth/principal';
import type { RequestFacts } from 'src/auth/request-facts';
import { ApiError } from 'src/errors/api-error';
import { assertUnreachable } from 'src/errors/assert-unreachable';
import { clientIp, hasForwardingHeader, socketPeer } from 'src/http/client-ip';

/** What a route declares, read from its metadata once (metadata never changes at run time). */
interface RouteAuth {
  requirement: AuthRequirement;
  /** An admin route's scope (`@RequiresAdminScope`); a route that declares none needs `admin`. */
  adminScope: AdminRouteScope;
}

/**
 * Deny by default: every route states the credential it takes with `@Public`, `@MetricsAuth`, `@AdminAuth`,
 * `@SessionAuth` or `@M2MAuth(scope)`. A route without one answers 401, so a forgotten decorator never opens a route. The
 * guard reads the request; the services it calls take plain values.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly logger = new Logger('AuthGuard');
  private readonly byHandler = new WeakMap<object, RouteAuth | null>();

  constructor(
    private readonly reflector: Reflector,
    private readonly admin: AdminAuthService,
    private readonly session: SessionAuthService,
    private readonly m2m: M2MAuthService,
    private readonly metrics: MetricsAuthService,
  ) {}

  /** Synchronous on public routes and for a remembered M2M token: no promise on those paths. */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const handler = context.getHandler();
    let route = this.byHandler.get(handler);
    if (route === undefined) {
      const controller = context.getClass();
      const requirement = this.reflector.getAllAndOverride<AuthRequirement | undefined>(AUTH_REQUIREMENT, [
        handler,
        controller,
      ]);
      route = requirement
        ? { requirement, adminScope: adminRouteScope(this.reflector, handler, controller) }
        : null;
      this.byHandler.set(handler, route);
    }
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    if (!route) {
      this.logger.error({ route: req.routeOptions.url }, 'route declares no auth requirement; denied');
      throw ApiError.unauthorized();
    }
    const { requirement } = route;
    let principal: Principal | Promise<Principal>;
    switch (requirement.kind) {
      case 'public':
        return true;
      case 'metrics':
        this.metrics.authenticate(bearerCredential(req));
        return true;
      case 'admin':
        principal = this.admin.authenticate(requestFacts(req), route.adminScope);
        break;
      case 'session':
        principal = this.session.authenticate(bearerCredential(req));
        break;
      case 'm2m':
        principal = this.m2m.authenticate(bearerCredential(req), requirement.scope);
        break;
      default:
        return assertUnreachable(requirement);
    }
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    if (principal instanceof Promise) return principal.then((p) => authenticated(req, reply, p));
    return authenticated(req, reply, principal);
  }
}

/**
 * The request's principal, set for what follows (controllers, the principal rate limits, audit rows). Every
 * answer to an authenticated request is private: no shared cache or browser disk keeps it (errors are
 * no-store already, from the exception filter).
 */
function authenticated(req: FastifyRequest, reply: FastifyReply, principal: Principal): true {
  req.principal = principal;
  void reply.header('cache-control', 'no-store');
  return true;
}

function requestFacts(req: FastifyRequest): RequestFacts {
  return {
    credential: bearerCredential(req),
    method: req.method,
    path: req.url.split('?', 1)[0] ?? '',
    ip: clientIp(req),
    peer: socketPeer(req),
    forwarded: hasForwardingHeader(req.headers),
    requestId: req.id,
    callerRequestId: req.callerRequestId,
    host: header(req, 'host'),
    origin: header(req, 'origin'),
    fetchSite: header(req, 'sec-fetch-site'),
  };
}

/** A header sent once, as a string; a repeated one counts as absent. */
function header(req: FastifyRequest, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}
