import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { Actors } from 'src/auth/actors';
import type { AuditContext } from 'src/audit/audit.service';
import { clientIp } from 'src/http/client-ip';

/** The audit context of the current request: the authenticated actor, the client IP, the request id and
 * the caller's own request id. */
export const Audit = createParamDecorator((_: unknown, ctx: ExecutionContext): AuditContext => {
  const req = ctx.switchToHttp().getRequest<FastifyRequest>();
  return {
    actor: req.principal?.actor ?? Actors.anonymous,
    ip: clientIp(req),
    requestId: req.id,
    callerRequestId: req.callerRequestId,
  };
});
