import type { FastifyInstance } from 'fastify';
import type { Logger as Pino } from 'pino';
import { truncateEcho } from 'src/errors/echo-limits';

/** Probes and scrapes are not worth a log line each. Compared without the query string. */
const UNLOGGED_PATHS = new Set(['/health/live', '/metrics']);

/**
 * One JSON line per response, once it is sent: `{req: {id, callerId?, method, url, remoteAddress}, res: {statusCode},
 * responseTime}`, at warn for 4xx and 502 and error for other 5xx (a 502 is a peer's failure, such as a
 * token endpoint that is down, already logged at warn by the module that called it). The url never carries its query string (the provider
 * callback's `token` and `state` travel there), and bodies and headers are never logged. Written with the
 * app's root logger from a Fastify hook: no child logger and no serializer per request. Requests refused
 * before routing (malformed JSON, a body over the limit) are logged too, with their request id.
 */
export function registerRequestLogger(instance: FastifyInstance, logger: Pino): void {
  instance.addHook('onResponse', (request, reply, done) => {
    const url = request.url;
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (!UNLOGGED_PATHS.has(path)) {
      const statusCode = reply.statusCode;
      const level = statusCode >= 500 && statusCode !== 502 ? 'error' : statusCode >= 400 ? 'warn' : 'info';
      if (logger.isLevelEnabled(level)) {
        logger[level](
          {
            req: {
              id: request.id,
              // The caller's own well-formed x-request-id (left out when none), apart from the request's id.
              callerId: request.callerRequestId ?? undefined,
              method: request.method,
              // Cut short like the 404 that echoes it: a client picks its length.
              url: truncateEcho(path),
              remoteAddress: request.socket?.remoteAddress,
            },
            res: { statusCode },
            responseTime: Math.round(reply.elapsedTime),
          },
          'request completed',
        );
      }
    }
    done();
  });
}
