import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const VALID_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Echoes a well-formed `x-request-id`, otherwise mints one; either way the response carries it. */
export function assignRequestId(req: IncomingMessage, res: ServerResponse): string {
  const incoming = req.headers['x-request-id'];
  const candidate = Array.isArray(incoming) ? incoming[0] : incoming;
  const id = candidate !== undefined && VALID_REQUEST_ID.test(candidate) ? candidate : randomUUID();
  res.setHeader('x-request-id', id);
  return id;
}

/**
 * The first middleware of the stack: every response, including the ones body parsing or path decoding
 * refuse before any other middleware runs, carries the request id.
 */
export function requestIdMiddleware(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  req.id = assignRequestId(req, res);
  next();
}

/** pino-http's `genReqId`: the id `requestIdMiddleware` already assigned. */
export function existingRequestId(req: IncomingMessage, res: ServerResponse): string {
  return typeof req.id === 'string' ? req.id : assignRequestId(req, res);
}
