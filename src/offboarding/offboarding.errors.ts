import { ApiError } from 'src/errors/api-error';
import { assertUnreachable } from 'src/errors/assert-unreachable';

export enum OffboardingErrorCode {
  UserNotFound = 'user_not_found',
  KeyNotFound = 'api_key_not_found',
}

export function offboardingError(code: OffboardingErrorCode): ApiError {
  switch (code) {
    case OffboardingErrorCode.UserNotFound:
      return ApiError.notFound('User');
    case OffboardingErrorCode.KeyNotFound:
      return ApiError.notFound('API key');
    default:
      return assertUnreachable(code);
  }
}
