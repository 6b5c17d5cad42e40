import type { FastifyRequest } from 'fastify';
import { isIP } from 'node:net';

/**
 * The client IP of a request, always an IP address in text form (at most 45 characters), or null when the
 * socket is already gone. Fastify's `request.ip` honours TRUST_PROXY, so behind a proxy it is whatever the
 * forwarded header says; that string is used only when it is an IP, otherwise the socket address is. An
 * IPv6 zone id (`%eth0`) is dropped: it means nothing off the host and would make the string unbounded.
 * Rate-limit keys and audit rows (`audit_events.ip` is varchar(64)) both take it from here.
 */
export function clientIp(req: Pick<FastifyRequest, 'ip' | 'socket'>): string | null {
  const forwarded = req.ip === undefined ? undefined : withoutZone(req.ip);
  if (forwarded !== undefined && isIP(forwarded)) return forwarded;
  const socket = req.socket?.remoteAddress;
  return socket === undefined ? null : withoutZone(socket);
}

function withoutZone(ip: string): string {
  const zone = ip.indexOf('%');
  return zone === -1 ? ip : ip.slice(0, zone);
}
