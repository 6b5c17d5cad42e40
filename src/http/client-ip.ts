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
  return socketPeer(req);
}

/**
 * The address of the TCP peer itself, whatever TRUST_PROXY says and whatever any header claims: behind a
 * proxy, the proxy's address. Null when the socket is already gone.
 */
export function socketPeer(req: Pick<FastifyRequest, 'socket'>): string | null {
  const socket = req.socket?.remoteAddress;
  return socket === undefined ? null : withoutZone(socket);
}

/**
 * Headers by which a proxy (or a client pretending to be one) says who the client is or how it came:
 * RFC 7239's `Forwarded`, every `X-Forwarded-*`, `X-Real-IP`, `Via`, and the client-address headers of
 * common CDNs and load balancers.
 */
const FORWARDING_HEADERS = new Set([
  'forwarded',
  'forwarded-for',
  'x-forwarded',
  'x-real-ip',
  'via',
  'x-client-ip',
  'x-cluster-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-original-forwarded-for',
]);

/** Whether the request carries any forwarding header (names as Node gives them: lowercase). */
export function hasForwardingHeader(headers: Readonly<Record<string, unknown>>): boolean {
  return Object.keys(headers).some((name) => name.startsWith('x-forwarded-') || FORWARDING_HEADERS.has(name));
}

function withoutZone(ip: string): string {
  const zone = ip.indexOf('%');
  return zone === -1 ? ip : ip.slice(0, zone);
}
