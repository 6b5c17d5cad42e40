import type { ErrorDetail } from 'src/errors/api-error';
import { MAX_ERROR_DETAILS } from 'src/errors/echo-limits';
import { ERROR_STATUS, type ErrorType } from 'src/errors/error-type';

/** The body of every error answer (API.md, "Everywhere"). */
export interface ErrorBody {
  error: { type: ErrorType; status: number; message: string; details?: ErrorDetail[]; reason?: string };
}

/**
 * The one place the error envelope is built: the exception filter, the answers to requests Node or the
 * router refuse before the app runs, and anything else that answers an error without throwing. `status`
 * defaults to the type's own; it differs only where a status without a type of its own is answered with the
 * nearest type (a 415 or 431 as `validation_failed`).
 */
export function errorBody(
  type: ErrorType,
  message: string,
  options: { status?: number; details?: readonly ErrorDetail[]; reason?: string } = {},
): ErrorBody {
  const error: ErrorBody['error'] = { type, status: options.status ?? ERROR_STATUS[type], message };
  if (options.details) error.details = [...options.details];
  if (options.reason !== undefined) error.reason = options.reason;
  return { error };
}

/**
 * The envelope as the OpenAPI document states it (`ErrorResponse`), beside the one function that builds it. `reason` says which upstream
 * failure a 502 was; `details` name the fields of a 400 (or what a 403 lacks).
 */
export const ERROR_RESPONSE_SCHEMA: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'status', 'message'],
      properties: {
        type: { type: 'string', enum: Object.keys(ERROR_STATUS) },
        status: { type: 'integer', minimum: 400, maximum: 599, description: 'The HTTP status.' },
        message: { type: 'string', minLength: 1 },
        reason: { type: 'string', description: 'Which kind of upstream failure (`upstream_failed`).' },
        details: {
          type: 'array',
          maxItems: MAX_ERROR_DETAILS,
          items: {
            type: 'object',
            properties: {
              field: { type: 'string' },
              messages: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    },
  },
};
