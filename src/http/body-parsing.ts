import type { FastifyInstance } from 'fastify';

/** Bodies of any content type are capped at this size: a bigger one is a 413 before it is read further. */
export const BODY_LIMIT = 64 * 1024;

/** `application/json` and the `+json` media types (`application/merge-patch+json`, …). */
const JSON_TYPES = /^application\/([\w.+-]+\+)?json(\s*;.*)?$/i;

/**
 * The only body parsing there is. JSON bodies are parsed (objects and arrays); an empty one reads as `{}` (a
 * POST without a body is an empty object, as with the Express body parser before). Bodies of any other content type — form-encoded
 * ones included — are read raw, as a Buffer, and so fail the route's validation with a 400 rather than a
 * 415. Fastify enforces the size cap while reading (413), for every type.
 */
export function registerBodyParsers(instance: FastifyInstance): void {
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser(
    JSON_TYPES,
    { parseAs: 'string', bodyLimit: BODY_LIMIT },
    (_req, body, done) => {
      const text = body as string;
      const start = text.trimStart()[0];
      if (start === undefined) return done(null, {});
      // Only an object or an array is a body (a bare string or number is refused, as body-parser's strict mode did).
      if (start !== '{' && start !== '[')
        return done(new SyntaxError('JSON body is not an object or an array'));
      try {
        done(null, JSON.parse(text));
      } catch (err) {
        done(err as Error, undefined);
      }
    },
  );
  instance.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_req, body, done) => {
    // A POST with no body at all (Content-Length: 0, no type) is an empty body, as `{}` would be.
    done(null, (body as Buffer).length === 0 ? {} : body);
  });
}
