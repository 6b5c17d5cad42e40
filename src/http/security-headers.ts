import helmet, { type HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a helmet configuration does to a response: headers it sets and headers it removes. */
interface HeaderSet {
  set: [string, string][];
  remove: string[];
}

/**
 * Runs helmet's middleware once against a recording response: helmet's headers depend only on its
 * configuration, never on the request, so they are computed at start instead of per request.
 */
function headersOf(options: HelmetOptions): HeaderSet {
  const headers: HeaderSet = { set: [], remove: [] };
  const res = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers.set.push([name, Array.isArray(value) ? value.join(', ') : String(value)]);
      return this;
    },
    removeHeader(name: string) {
      headers.remove.push(name);
    },
  } as unknown as ServerResponse;
  let failed: unknown;
  helmet(options)({ headers: {} } as IncomingMessage, res, (err?: unknown) => (failed = err));
  if (failed) throw failed instanceof Error ? failed : new Error('helmet refused its configuration');
  return headers;
}

/** Swagger UI needs its inline bootstrap script; everything else gets helmet's strict defaults. */
const DOCS_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: {
    directives: {
      scriptSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:', 'validator.swagger.io'],
    },
  },
};

const API_HEADERS = headersOf({});
const DOCS_HEADERS = headersOf(DOCS_OPTIONS);

/**
 * helmet's security headers for a request to `url`, with the docs page's exception, set on the Node response
 * so that every answer carries them — errors, 404s and requests refused before routing included. A route
 * that sends its own `Content-Security-Policy` (`reply.header`) keeps it: Node gives the headers Fastify
 * writes precedence over these.
 */
export function applySecurityHeaders(url: string, raw: ServerResponse): void {
  const { set, remove } = url.startsWith('/api/docs') ? DOCS_HEADERS : API_HEADERS;
  for (let i = 0; i < set.length; i++) raw.setHeader(set[i]![0], set[i]![1]);
  for (let i = 0; i < remove.length; i++) raw.removeHeader(remove[i]!);
}
