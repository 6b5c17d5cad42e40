import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from 'src/errors/api-error';

/** Bodies of any content type are capped at this size: a bigger one is a 413 before it is read further. */
export const BODY_LIMIT = 64 * 1024;

/**
 * How deep a JSON body may nest: the top-level object or array is level 1. Every body keysmith takes is two
 * levels deep at most (an object holding an array of strings); deeper input only costs. Past this the
 * transformer recursed per level (a 64 KiB body of brackets was a 500 with a stack trace, at 15–25 times the
 * CPU of a normal request), so the limit is checked on the text, before the body is parsed or transformed.
 */
export const MAX_JSON_DEPTH = 8;

/**
 * Whether the JSON text opens more than `max` objects or arrays inside one another. A linear scan that skips
 * strings (and the escapes in them); it does not validate the JSON, JSON.parse does that next.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

export const TOO_DEEP_MESSAGE = `The JSON body nests deeper than ${MAX_JSON_DEPTH} levels.`;
const NOT_UTF8_MESSAGE = 'A JSON body must be UTF-8: Content-Type declares another charset.';

/**
 * Whether a Content-Type declares a charset other than UTF-8. JSON is UTF-8 (RFC 8259 §8.1) and is read as
 * such: a body declared latin1 or UTF-16 would be decoded into other text than its sender meant, so it is
 * refused. `charset=utf-8` is accepted in any case, quoted or not, as is its common alias `utf8`.
 */
export function declaresNonUtf8Charset(contentType: string): boolean {
  // The common case, `application/json` without parameters, allocates nothing.
  if (!contentType.includes(';')) return false;
  const params = contentType.split(';').slice(1);
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const value = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (value !== 'utf-8' && value !== 'utf8') return true;
  }
  return false;
}

/**
 * `text.trimStart()[0]`, without copying the text in the common case: ASCII spaces, tabs and line breaks are
 * skipped here; a first other character outside printable ASCII (a BOM, a no-break space, …) is left to
 * trimStart, so the answer is exactly its answer.
 */
export function firstNonWhitespace(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c > 0x20 && c < 0x7f ? text[i] : text.trimStart()[0];
  }
  return undefined;
}

/** The key of a route's Fastify `config` that marks it raw-bodied, with its own size cap. */
const RAW_BODY = 'rawBody';

/**
 * A route whose handler gets its body as the exact bytes that arrived (a Buffer, empty when there was none),
 * whatever the content type, never parsed: for a route that must check a signature over those bytes before
 * anything reads them (the secret-scanning report). Bodies are capped at `limit` bytes on this route (413
 * above) instead of BODY_LIMIT; every other route keeps the parsers and the cap below. Like BrowserCallable,
 * the rule travels with the route as Fastify route config, which `registerBodyParsers` reads.
 */
export function RawBody(limit: number): MethodDecorator {
  if (!Number.isInteger(limit) || limit <= 0)
    throw new Error('RawBody: the limit must be a positive integer');
  return (_target, _key, descriptor) => {
    const handler = descriptor.value as object;
    const config = (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) as object | undefined) ?? {};
    Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { ...config, [RAW_BODY]: limit }, handler);
    return descriptor;
  };
}

/**
 * The body of a `@RawBody` route's request: the bytes as they arrived, an empty Buffer when there were none.
 * A parameter decorator of its own, so no pipe (the global ValidationPipe) ever sees or transforms it.
 */
export const RawBodyBytes = createParamDecorator((_: unknown, ctx: ExecutionContext): Buffer => {
  const body = ctx.switchToHttp().getRequest<FastifyRequest>().body;
  return Buffer.isBuffer(body) ? body : Buffer.alloc(0);
});

/** The size cap of a `@RawBody` route, or undefined for a route whose body is parsed. */
export function rawBodyLimitOf(config: unknown): number | undefined {
  const limit = (config as Record<string, unknown> | undefined)?.[RAW_BODY];
  return typeof limit === 'number' ? limit : undefined;
}

/** Whether the request was routed to a `@RawBody` route (unmatched requests never are). */
function wantsRawBody(req: FastifyRequest): boolean {
  return !req.is404 && rawBodyLimitOf(req.routeOptions.config) !== undefined;
}

/** `application/json` and the `+json` media types (`application/merge-patch+json`, …). */
const JSON_TYPES = /^application\/([\w.+-]+\+)?json(\s*;.*)?$/i;

/**
 * The only body parsing there is. JSON bodies are parsed (objects and arrays, at most MAX_JSON_DEPTH levels
 * deep: deeper is a 400 `validation_failed`, and so is one declared in a charset other than UTF-8); an
 * empty one reads as `{}` (a POST without a body is an empty object, as with the Express body parser
 * before). Bodies of any other content type — form-encoded ones included — are read raw, as a Buffer, and so
 * fail the route's validation with a 400 rather than a 415. Fastify enforces the size cap while reading
 * (413), for every type. A `@RawBody` route gets the bytes as they came, under its own cap (an `onRoute` hook
 * sets it as the route's `bodyLimit`, which Fastify applies instead of the parsers'): call this before any
 * route is registered.
 */
export function registerBodyParsers(instance: FastifyInstance): void {
  instance.addHook('onRoute', (route) => {
    const limit = rawBodyLimitOf(route.config);
    if (limit !== undefined) route.bodyLimit = limit;
  });
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser(
    JSON_TYPES,
    { parseAs: 'buffer', bodyLimit: BODY_LIMIT },
    (req, body, done) => {
      if (wantsRawBody(req)) return done(null, body);
      if (declaresNonUtf8Charset(req.headers['content-type'] ?? ''))
        return done(ApiError.validation(NOT_UTF8_MESSAGE));
      const text = (body as Buffer).toString('utf8');
      const start = firstNonWhitespace(text);
      if (start === undefined) return done(null, {});
      // Only an object or an array is a body (a bare string or number is refused, as body-parser's strict mode did).
      if (start !== '{' && start !== '[')
        return done(new SyntaxError('JSON body is not an object or an array'));
      // Before parsing, and before any other check: a too-deep body is this 400, whatever else is wrong with it.
      if (nestsDeeperThan(text, MAX_JSON_DEPTH)) return done(ApiError.validation(TOO_DEEP_MESSAGE));
      try {
        done(null, JSON.parse(text));
      } catch (err) {
        done(err as Error, undefined);
      }
    },
  );
  instance.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (req, body, done) => {
    if (wantsRawBody(req)) return done(null, body);
    // A POST with no body at all (Content-Length: 0, no type) is an empty body, as `{}` would be.
    done(null, (body as Buffer).length === 0 ? {} : body);
  });
}
