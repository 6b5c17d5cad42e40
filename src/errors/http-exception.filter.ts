import {
  ArgumentsHost,
  Catch,
  HttpException,
  HttpStatus,
  Logger,
  type ExceptionFilter,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { QueryFailedError } from 'typeorm';
import { isDatabaseUnavailable } from 'src/database/database-errors';
import { ApiError, type ErrorDetail } from 'src/errors/api-error';
import type { ErrorType } from 'src/errors/error-type';

interface ErrorBody {
  error: { type: ErrorType; status: number; message: string; details?: ErrorDetail[] };
}

/** Statuses Nest or Express raise on their own, mapped onto the contract's error types. */
function typeForStatus(status: number): ErrorType {
  switch (status) {
    case 400:
      return 'validation_failed';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 413:
      return 'payload_too_large';
    case 429:
      return 'rate_limited';
    case 502:
      return 'upstream_failed';
    case 503:
      return 'service_unavailable';
    default:
      return status >= 500 ? 'internal_error' : 'validation_failed';
  }
}

const GENERIC_MESSAGES: Partial<Record<ErrorType, string>> = {
  unauthorized: 'Authentication required.',
  forbidden: 'Not allowed.',
  not_found: 'Not found.',
  payload_too_large: 'Request body exceeds the 64 KiB limit.',
  rate_limited: 'Too many requests. Retry later.',
  internal_error: 'Internal server error.',
  service_unavailable: 'Service temporarily unavailable. Retry later.',
};

/** Body-parser errors carry `type` and `status`; they must never surface as a 500. */
interface BodyParserError {
  type: string;
  status?: number;
  statusCode?: number;
}

function isBodyParserError(e: unknown): e is BodyParserError {
  return (
    typeof e === 'object' && e !== null && typeof (e as BodyParserError).type === 'string' && 'expose' in e
  );
}

/** PostgreSQL error codes (SQLSTATE) that mean the input was bad, whatever a DTO missed. */
const INVALID_INPUT_CODES = new Set(['22001', '22003', '22007', '22008', '22021', '22P02', '22P05']);
const UNIQUE_VIOLATION = '23505';

function sqlState(error: QueryFailedError<Error>): string | undefined {
  const code = (error.driverError as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A safety net behind validation: bad input PostgreSQL refused is a 400, a unique violation a 409. */
function mapDatabaseError(error: QueryFailedError<Error>): ErrorBody | undefined {
  const code = sqlState(error);
  if (code && INVALID_INPUT_CODES.has(code)) {
    return { error: { type: 'validation_failed', status: 400, message: 'Invalid input.' } };
  }
  if (code === UNIQUE_VIOLATION) {
    return { error: { type: 'conflict', status: 409, message: 'Conflicts with an existing resource.' } };
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
      code: sqlState(exception as QueryFailedError<Error>),
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
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const { body, retryAfterSeconds } = this.toBody(exception, req);

    // A 503 ApiError is a known unavailability that whoever threw it logs (once per outage, not per call).
    const expectedOutage = exception instanceof ApiError && exception.status === 503;
    if (body.error.status >= 500 && !expectedOutage)
      this.logger.error({ err: loggableError(exception), requestId: req.id }, 'request failed');
    if (retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(retryAfterSeconds));
    res.setHeader('Cache-Control', 'no-store');
    res.status(body.error.status).json(body);
  }

  private toBody(exception: unknown, req: Request): { body: ErrorBody; retryAfterSeconds?: number } {
    if (exception instanceof ApiError) {
      const body: ErrorBody = {
        error: { type: exception.type, status: exception.status, message: exception.message },
      };
      if (exception.options.details) body.error.details = exception.options.details;
      return { body, retryAfterSeconds: exception.options.retryAfterSeconds };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const type = typeForStatus(status);
      if (type === 'validation_failed') {
        return { body: this.validationBody(exception) };
      }
      if (type === 'not_found') {
        return { body: { error: { type, status, message: `Route ${req.method} ${req.path} not found.` } } };
      }
      // A dependency that is down (the database, for /health/ready) is worth retrying shortly.
      return {
        body: this.generic(type, status),
        retryAfterSeconds: type === 'service_unavailable' ? 5 : undefined,
      };
    }
    if (isDatabaseUnavailable(exception)) {
      return { body: this.generic('service_unavailable', 503), retryAfterSeconds: 5 };
    }
    if (exception instanceof QueryFailedError) {
      const mapped = mapDatabaseError(exception as QueryFailedError<Error>);
      if (mapped) return { body: mapped };
    }
    if (isBodyParserError(exception)) {
      const status = exception.status ?? exception.statusCode ?? 400;
      if (status === 413) return { body: this.generic('payload_too_large', 413) };
      if (status < 500) {
        const message =
          exception.type === 'entity.parse.failed'
            ? 'Malformed JSON body.'
            : 'The request body could not be read.';
        return { body: { error: { type: typeForStatus(status), status, message } } };
      }
    }
    return { body: this.generic('internal_error', HttpStatus.INTERNAL_SERVER_ERROR) };
  }

  private generic(type: ErrorType, status: number): ErrorBody {
    return { error: { type, status, message: GENERIC_MESSAGES[type] ?? 'Request failed.' } };
  }

  private validationBody(exception: HttpException): ErrorBody {
    const response = exception.getResponse();
    const raw =
      typeof response === 'object' && response !== null
        ? (response as { message?: unknown }).message
        : undefined;
    const messages = Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? [raw] : [];
    const details: ErrorDetail[] = [];
    for (const m of messages) {
      const field = m.split(' ')[0] ?? '';
      const existing = details.find((d) => d.field === field);
      if (existing) existing.messages.push(m);
      else details.push({ field, messages: [m] });
    }
    const body: ErrorBody = {
      error: { type: 'validation_failed', status: 400, message: messages[0] ?? 'Invalid request.' },
    };
    if (details.length) body.error.details = details;
    return body;
  }
}
