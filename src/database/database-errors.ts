import { QueryFailedError } from 'typeorm';

/**
 * Every PostgreSQL error code (SQLSTATE, Appendix A of the PostgreSQL manual) keysmith reacts to, and the
 * questions asked of them: nowhere else in src/ names a SQLSTATE.
 */
const SQLSTATE = {
  uniqueViolation: '23505',
  lockNotAvailable: '55P03',
  queryCanceled: '57014',
} as const;

/** Bad input PostgreSQL refused, whatever a DTO missed: too long, out of range, bad date, bad encoding, bad text. */
const INVALID_INPUT_SQLSTATES = new Set(['22001', '22003', '22007', '22008', '22021', '22P02', '22P05']);
/** A lock wait (lock_timeout) or a statement (statement_timeout) that ran past its bound. */
const WAIT_EXCEEDED_SQLSTATES = new Set<string>([SQLSTATE.lockNotAvailable, SQLSTATE.queryCanceled]);
/** SQLSTATEs of a server that is down, restarting, or refusing connections: worth retrying, not a bug. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '3D000']);
/** Class 08: connection exceptions. */
const CONNECTION_EXCEPTION_CLASS = '08';
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);
// node-postgres reports a lost or refused connection with plain Errors that carry no code.
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|not currently accepting connections|Client has encountered a connection error|Connection terminated due to connection timeout/i;

/** The SQLSTATE of a failed query (TypeORM's QueryFailedError wraps the driver's error); undefined otherwise. */
export function sqlState(error: unknown): string | undefined {
  if (!(error instanceof QueryFailedError)) return undefined;
  const code = (error.driverError as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Whether `error` is a unique-constraint violation: a failed query's, or the driver's own error (a raw
 * `manager.query` can surface it unwrapped).
 */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; driverError?: { code?: unknown } } | null | undefined;
  return e?.code === SQLSTATE.uniqueViolation || e?.driverError?.code === SQLSTATE.uniqueViolation;
}

/** Whether a failed query was refused for its input (a value too long, out of range, malformed). */
export function isInvalidInput(error: unknown): boolean {
  const code = sqlState(error);
  return code !== undefined && INVALID_INPUT_SQLSTATES.has(code);
}

/** Whether a failed query waited past its lock_timeout or statement_timeout. */
export function isWaitExceeded(error: unknown): boolean {
  const code = sqlState(error);
  return code !== undefined && WAIT_EXCEEDED_SQLSTATES.has(code);
}

/** Whether an error means "the database cannot be reached right now" rather than "this query is wrong". */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const cause = error instanceof QueryFailedError ? (error.driverError as unknown) : error;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (
    typeof code === 'string' &&
    (UNAVAILABLE_SQLSTATES.has(code) ||
      code.startsWith(CONNECTION_EXCEPTION_CLASS) ||
      UNAVAILABLE_ERRNOS.has(code))
  ) {
    return true;
  }
  return UNAVAILABLE_MESSAGES.test(error.message);
}
