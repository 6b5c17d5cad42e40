import { ApiError } from 'src/errors/api-error';
import { assertUnreachable } from 'src/errors/assert-unreachable';

export enum LeaksErrorCode {
  /** Signature headers missing or malformed, an unknown key, or a signature over other bytes: the one 401. */
  BadSignature = 'leaks_bad_signature',
  /** The scanner's keys cannot be fetched and the report's key is not among those last fetched. */
  KeysUnavailable = 'leaks_keys_unavailable',
  /** A verified report body that is not a JSON array of matches (the detail names what, never the body). */
  MalformedReport = 'leaks_malformed_report',
}

/** The API error each leak-response failure answers with. */
export function leaksError(
  code: LeaksErrorCode,
  detail: { retryAfterSeconds?: number; message?: string } = {},
): ApiError {
  switch (code) {
    case LeaksErrorCode.BadSignature:
      return ApiError.unauthorized();
    case LeaksErrorCode.KeysUnavailable:
      return new ApiError(
        'service_unavailable',
        "The secret scanner's public keys cannot be fetched. Retry later.",
        { retryAfterSeconds: detail.retryAfterSeconds ?? 5 },
      );
    case LeaksErrorCode.MalformedReport:
      return ApiError.validation(`Malformed report: ${detail.message ?? 'not a JSON array of matches.'}`);
    default:
      return assertUnreachable(code);
  }
}
