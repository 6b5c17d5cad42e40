import type { FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';

const VALID_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's `x-request-id` when it is well-formed, else null. Never the request's own id. */
    callerRequestId: string | null;
  }
}

/**
 * The request id (Fastify's `genReqId`): always a fresh UUID generated here. Logs, audit rows and error
 * pages use it, so a caller can never choose it: a well-formed `x-request-id` is kept apart, as the request's
 * `callerRequestId`, logged and audited next to it (decision 0054).
 */
export function requestIdOf(): string {
  return randomUUID();
}

/** The caller's `x-request-id` if it matches `[A-Za-z0-9._-]{1,128}`, else null. */
export function callerRequestIdOf(req: Pick<FastifyRequest, 'headers'>): string | null {
  const incoming = req.headers['x-request-id'];
  const candidate = Array.isArray(incoming) ? incoming[0] : incoming;
  return candidate !== undefined && VALID_REQUEST_ID.test(candidate) ? candidate : null;
}
