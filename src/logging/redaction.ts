/**
 * Paths pino censors in every log line. Requests are logged without bodies, but any object a service logs
 * passes through the same list, so a secret-bearing field name is redacted wherever it appears.
 */
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
  'privateKeyPem',
];

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'req.query.token',
  'req.query.state',
  // A database error carries the statement's values; the exception filter never logs them, nor may anyone.
  'err.parameters',
  'err.query',
  'err.driverError',
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
];
