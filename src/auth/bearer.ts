import type { FastifyRequest } from 'fastify';

/** The credential of `Authorization: Bearer <credential>`, or undefined. Never read from the query string. */
export function bearerCredential(req: Pick<FastifyRequest, 'headers'>): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
