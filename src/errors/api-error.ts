import { ERROR_STATUS, type ErrorType } from 'src/errors/error-type';

export interface ErrorDetail {
  field: string;
  messages: string[];
}

/**
 * The one exception type services throw for an expected failure. The global filter turns it into
 * `{"error":{type,status,message}}`; anything else becomes a generic 500.
 */
export class ApiError extends Error {
  readonly status: number;

  constructor(
    readonly type: ErrorType,
    message: string,
    readonly options: {
      details?: ErrorDetail[];
      retryAfterSeconds?: number;
      /** A machine-readable word from the failing module's fixed vocabulary (never upstream text). */
      reason?: string;
    } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = ERROR_STATUS[type];
  }

  static unauthorized(): ApiError {
    // One message for every authentication failure, so callers cannot tell why they were refused.
    return new ApiError('unauthorized', 'Authentication required.');
  }

  static notFound(what = 'Resource'): ApiError {
    return new ApiError('not_found', `${what} not found.`);
  }

  static forbidden(message = 'Not allowed.'): ApiError {
    return new ApiError('forbidden', message);
  }

  /** 403 `identity_not_allowed`: the user (or the identity behind a credential) is disabled. */
  static identityNotAllowed(message: string): ApiError {
    return new ApiError('identity_not_allowed', message);
  }

  static conflict(message: string): ApiError {
    return new ApiError('conflict', message);
  }

  static validation(message: string, details?: ErrorDetail[]): ApiError {
    return new ApiError('validation_failed', message, details ? { details } : {});
  }
}
