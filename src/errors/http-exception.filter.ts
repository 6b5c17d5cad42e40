import {
  ArgumentsHost,
  Catch,
  HttpException,
  HttpStatus,
  Logger,
  type ExceptionFilter,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { QueryFailedError } from 'typeorm';
import {
  isDatabaseUnavailable,
  isInvalidInput,
  isUniqueViolation,
  sqlState,
} from 'src/database/database-errors';
import { ApiError } from 'src/errors/api-error';
import { errorBody, type ErrorBody } from 'src/errors/error-body';
import { MAX_ERROR_DETAILS, truncateEcho } from 'src/errors/echo-limits';
import type { ErrorType } from 'src/errors/error-type';

/**
 * Statuses Nest or Fastify raise on their own, mapped onto the contract's error types. Any other 4xx (406,
 * 411, 414, 415, 431, ...) keeps its real status and is typed `validation_failed`: the client sent
 * something this API cannot take, and API.md has no more specific type for it. Any other 5xx is answered
 * as a plain 500 `internal_error`, so status and type always match API.md's list.
 */
function typeForStatus(status: number): { type: ErrorType; status: number } {
  switch (status) {
    case 400:
      return { type: 'validation_failed', status };
    case 401:
      return { type: 'unauthorized', status };
    case 403:
      return { type: 'forbidden', status };
    case 404:
      return { type: 'not_found', status };
    case 405:
      return { type: 'method_not_allowed', status };
    case 409:
      return { type: 'conflict', status };
    case 413:
      return { type: 'payload_too_large', status };
    case 429:
      return { type: 'rate_limited', status };
    case 502:
      return { type: 'upstream_failed', status };
    case 503:
      return { type: 'service_unavailable', status };
    default:
      return status >= 400 && status < 500
        ? { type: 'validation_failed', status }
        : { type: 'internal_error', status: HttpStatus.INTERNAL_SERVER_ERROR };
  }
}

const GENERIC_MESSAGES: Partial<Record<ErrorType, string>> = {
  unauthorized: 'Authentication required.',
  forbidden: 'Not allowed.',
  not_found: 'Not found.',
  method_not_allowed: 'Method not allowed.',
  conflict: 'Conflicts with an existing resource.',
  payload_too_large: 'Request body exceeds the 64 KiB limit.',
  rate_limited: 'Too many requests. Retry later.',
  internal_error: 'Internal server error.',
  upstream_failed: 'An upstream service failed.',
  service_unavailable: 'Service temporarily unavailable. Retry later.',
};

/** An error Fastify (or Node) raised itself: a numeric `statusCode` and often a machine `code`. */
function isFrameworkError(e: unknown): e is Error & { statusCode: number; code?: unknown } {
  return e instanceof Error && typeof (e as { statusCode?: unknown }).statusCode === 'number';
}

/** The 413's message: the cap of the route the body was sent to (64 KiB but on a `@RawBody` route). */
function tooLargeMessage(req: FastifyRequest): string {
  const limit = req.is404 ? undefined : req.routeOptions?.bodyLimit;
  const kib = Math.floor((typeof limit === 'number' ? limit : 64 * 1024) / 1024);
  return `Request body exceeds the ${kib} KiB limit.`;
}

/**
 * Errors raised before a handler runs (routing a malformed URL, reading or parsing the body). Their own text
 * can echo the input, so the client gets a fixed message per kind instead.
 */
function parserErrorBody(cause: unknown, req: FastifyRequest): ErrorBody | undefined {
  const bad = (message: string): ErrorBody => errorBody('validation_failed', message);
  if (cause instanceof SyntaxError) return bad('Malformed JSON body.');
  if (cause instanceof URIError) return bad('Malformed URL.');
  if (!isFrameworkError(cause) || cause.statusCode >= 500) return undefined;
  if (cause.code === 'FST_ERR_BAD_URL' || cause.code === 'FST_ERR_ASYNC_CONSTRAINT')
    return bad('Malformed URL.');
  // 415 (an unsupported media type, encoding or charset) has no type in API.md: it is a request this API
  // cannot read, so it is answered as the 400 validation_failed the contract has for that.
  if (cause.statusCode === 415) return bad('Unsupported content encoding.');
  if (cause.statusCode === 400) return bad('The request body could not be read.');
  const { type, status } = typeForStatus(cause.statusCode);
  if (type === 'payload_too_large') return errorBody(type, tooLargeMessage(req), { status });
  return errorBody(type, GENERIC_MESSAGES[type] ?? fixedStatusMessage(status), { status });
}

function fixedStatusMessage(status: number): string {
  return `${STATUS_CODES[status] ?? 'Request failed'}.`;
}

/** A safety net behind validation: bad input PostgreSQL refused is a 400, a unique violation a 409. */
function mapDatabaseError(error: unknown): ErrorBody | undefined {
  if (isInvalidInput(error)) {
    return errorBody('validation_failed', 'Invalid input.');
  }
  if (isUniqueViolation(error)) {
    return errorBody('conflict', 'Conflicts with an existing resource.');
  }
  return undefined;
}

/**
 * What a failed request logs about its error. A database error's message, query and parameters can hold
 * the request's values (labels, hashes, tokens), so only its SQLSTATE and constraint are kept.
 */
function loggableError(exception: unknown): Record<string, unknown> {
  if (exception instanceof QueryFailedError) {
    const driver = exception.driverError as { constraint?: unknown; table?: unknown } | undefined;
    return {
      type: 'QueryFailedError',
      code: sqlState(exception),
      constraint: driver?.constraint,
      table: driver?.table,
    };
  }
  if (exception instanceof Error)
    return { type: exception.name, message: exception.message, stack: exception.stack };
  return { type: typeof exception };
}

@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<FastifyReply>();
    const req = ctx.getRequest<FastifyRequest>();
    const { body, retryAfterSeconds } = this.toBody(exception, req);

    // A 503 ApiError is a known unavailability, and a 502 one a peer's failure: whoever threw it logs it
    // (at warn, once per outage or failure, without a stack), so it is not a keysmith error.
    const expectedOutage =
      exception instanceof ApiError && (exception.status === 503 || exception.type === 'upstream_failed');
    if (body.error.status >= 500 && !expectedOutage)
      this.logger.error({ err: loggableError(exception), requestId: req.id }, 'request failed');
    if (retryAfterSeconds !== undefined) res.header('Retry-After', String(retryAfterSeconds));
    res.header('Cache-Control', 'no-store');
    res.status(body.error.status).send(body);
  }

  private toBody(exception: unknown, req: FastifyRequest): { body: ErrorBody; retryAfterSeconds?: number } {
    if (exception instanceof ApiError) {
      const body = errorBody(exception.type, exception.message, {
        status: exception.status,
        // Bounded whoever built them: an answer never lists more than MAX_ERROR_DETAILS entries.
        details: exception.options.details?.slice(0, MAX_ERROR_DETAILS),
        reason: exception.options.reason,
      });
      return { body, retryAfterSeconds: exception.options.retryAfterSeconds };
    }
    if (exception instanceof HttpException) {
      const parserBody = parserErrorBody(exception.cause, req);
      if (parserBody) return { body: parserBody };
      const { type, status } = typeForStatus(exception.getStatus());
      if (type === 'validation_failed') {
        return { body: status === 400 ? this.badRequestBody(exception) : this.fixed(type, status) };
      }
      if (type === 'not_found') {
        // The path is echoed cut short: a 404 must not repeat a 9,000-character URL back.
        const path = truncateEcho(req.url.split('?', 1)[0] ?? '');
        return { body: errorBody(type, `Route ${req.method} ${path} not found.`, { status }) };
      }
      // A dependency that is down (the database, for /health/ready) is worth retrying shortly.
      return {
        body: this.generic(type, status),
        retryAfterSeconds: type === 'service_unavailable' ? 5 : undefined,
      };
    }
    const parserBody = parserErrorBody(exception, req);
    if (parserBody) return { body: parserBody };
    if (isDatabaseUnavailable(exception)) {
      return { body: this.generic('service_unavailable', 503), retryAfterSeconds: 5 };
    }
    if (exception instanceof QueryFailedError) {
      const mapped = mapDatabaseError(exception);
      if (mapped) return { body: mapped };
    }
    return { body: this.generic('internal_error', HttpStatus.INTERNAL_SERVER_ERROR) };
  }

  private generic(type: ErrorType, status: number): ErrorBody {
    return errorBody(type, GENERIC_MESSAGES[type] ?? 'Request failed.', { status });
  }

  private fixed(type: ErrorType, status: number): ErrorBody {
    return errorBody(type, fixedStatusMessage(status), { status });
  }

  /**
   * A 400 Nest raised itself (a built-in pipe such as ParseIntPipe): its message is written by Nest, not
   * the client, so it is kept. Only ApiError carries `details`, from the validation pipe's real fields.
   */
  private badRequestBody(exception: HttpException): ErrorBody {
    const response = exception.getResponse();
    const raw =
      typeof response === 'object' && response !== null
        ? (response as { message?: unknown }).message
        : response;
    const first: unknown = Array.isArray(raw) ? (raw as unknown[])[0] : raw;
    const message = typeof first === 'string' && first !== '' ? truncateEcho(first) : 'Invalid request.';
    return errorBody('validation_failed', message);
  }
}
