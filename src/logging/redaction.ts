import pino, { type LoggerOptions } from 'pino';

export const REDACTED = '[REDACTED]';

/**
 * Field names whose values are censored in every log line, at any depth and in any case. Requests are
 * logged without bodies or headers, but any object a service logs passes through the same walk, so a
 * secret-bearing field is redacted wherever it appears. `keys?$` covers apiKey, encryptionKey(s),
 * signingKey, privateKey, x-api-key and plain `key`; `keyId` and `keyPrefix` stay readable.
 */
const SECRET_KEY =
  /token|secret|password|passphrase|authorization|api[-_]?key|private|keys?$|cookie|plaintext|jwt|credential/i;

/**
 * keysmith's own credentials, recognised by shape in any string of a log line (its message, an error's
 * message or stack, a field of any name): an API key, `ksk_<16 hex>_<64 hex>` with or without its `_<checksum>`,
 * or an org token, `kso_` and 38 base62 characters. Any run this long after the prefix is censored, typos
 * included; a display prefix (`ksk_` and 8 characters) stays readable.
 */
const CREDENTIAL_SHAPE = /ks[ko]_[0-9a-z_]{20,}/gi;

function censorCredentials(text: string): string {
  return text.replace(CREDENTIAL_SHAPE, REDACTED);
}

/** A database error carries its statement and values: whoever logs one, those never reach the log. */
const DROPPED_ERROR_FIELDS = new Set(['parameters', 'query', 'driverError']);

const MAX_DEPTH = 8;

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function walk(value: unknown, depth: number, ancestors: Set<object>, isError = false): unknown {
  if (typeof value === 'string') return censorCredentials(value);
  if (typeof value !== 'object' || value === null) return value;
  if (ancestors.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  if (value instanceof Error) return walk({ ...pino.stdSerializers.err(value) }, depth, ancestors, true);
  const arrayLike = Array.isArray(value);
  // pino's serialized errors inherit from a prototype of their own: walk their own fields as well.
  if (!arrayLike && !isPlainObject(value) && !isError) return value;
  ancestors.add(value);
  try {
    if (arrayLike) return value.map((item) => walk(item, depth + 1, ancestors));
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      if (isError && DROPPED_ERROR_FIELDS.has(key)) continue;
      out[key] = SECRET_KEY.test(key) ? REDACTED : walk(child, depth + 1, ancestors, key === 'err');
    }
    return out;
  } finally {
    ancestors.delete(value);
  }
}

/** A copy of `obj` with every secret-named field censored (bounded depth, cycle-safe). */
export function censorSecrets(obj: Record<string, unknown>): Record<string, unknown> {
  return walk(obj, 0, new Set()) as Record<string, unknown>;
}

/** An `err` serializer: an Error (or what a serializer already made of one) without secrets or SQL. */
function serializeError(err: unknown): unknown {
  return walk(err, 0, new Set(), true);
}

const SECRET_FIELDS = [
  'token',
  'apiKey',
  'api_key',
  'secret',
  'rawApiKey',
  'refreshToken',
  'refresh_token',
  'accessToken',
  'access_token',
  'clientSecret',
  'client_secret',
  'password',
  'key',
  'authorization',
  'Authorization',
  'privateKeyPem',
];

/**
 * pino resets the bindings formatter for child loggers, so `formatters.bindings` only covers the root's.
 * A child's bindings are censored by these fixed paths instead (top level and one below).
 */
const BINDING_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
];

/**
 * pino options that censor every log line: the merged log object (`formatters.log`), child bindings
 * (`formatters.bindings`, plus fixed redact paths for children) and errors. Request logs stay readable: their `req` is reduced to id, method,
 * path and address and `res` to the status code (request-logger.ts), none of which is secret-named.
 */
export function redactingLoggerOptions(options: LoggerOptions): LoggerOptions {
  return {
    ...options,
    redact: { paths: BINDING_REDACT_PATHS, censor: REDACTED },
    formatters: { log: censorSecrets, bindings: censorSecrets },
    serializers: { ...options.serializers, err: serializeError },
    hooks: {
      ...options.hooks,
      // The message is not part of the object the formatters see.
      logMethod(args, method) {
        const censored = args.map((a) => (typeof a === 'string' ? censorCredentials(a) : a));
        method.apply(this, censored as Parameters<typeof method>);
      },
    },
  };
}
