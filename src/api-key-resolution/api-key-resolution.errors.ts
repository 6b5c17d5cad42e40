import { ApiError } from 'src/errors/api-error';
import { assertUnreachable } from 'src/errors/assert-unreachable';

/** How long a caller should wait before retrying when the database cannot be reached. */
export const RESOLUTION_RETRY_AFTER_SECONDS = 5;

export enum ApiKeyResolutionErrorCode {
  /** Malformed, unknown, wrong secret, revoked or expired: indistinguishable to the caller. */
  InvalidKey = 'invalid_key',
  UserDisabled = 'user_disabled',
  Unavailable = 'unavailable',
}

/**
 * 403 `insufficient_scope` for a live key that lacks some of the caller's `requiredScopes`: one detail,
 * `requiredScopes`, whose messages are the missing scopes verbatim (decision 0017). The key's other scopes
 * are not named.
 */
export function insufficientScopeError(missing: readonly string[]): ApiError {
  return new ApiError('insufficient_scope', 'The API key lacks required scopes.', {
    details: [{ field: 'requiredScopes', messages: [...missing] }],
  });
}

export function apiKeyResolutionError(code: ApiKeyResolutionErrorCode): ApiError {
  switch (code) {
    case ApiKeyResolutionErrorCode.InvalidKey:
      return new ApiError('invalid_api_key', 'Invalid API key.');
    case ApiKeyResolutionErrorCode.UserDisabled:
      return ApiError.identityNotAllowed('The identity behind this API key is not allowed.');
    case ApiKeyResolutionErrorCode.Unavailable:
      return new ApiError('key_resolution_unavailable', 'API key resolution is unavailable. Retry later.', {
        retryAfterSeconds: RESOLUTION_RETRY_AFTER_SECONDS,
      });
    default:
      return assertUnreachable(code);
  }
}

/**
 * The two refusals of a key that resolve answers most often, built once: a flood of bad keys is answered
 * without an Error, a stack trace and an options object per request (the stack was 6 % of the CPU of a
 * bad-checksum refusal; docs/bench.md). An ApiError is never changed after it is built, and a 4xx is never
 * logged with its stack, so one instance serves every refusal.
 */
const INVALID_KEY_REFUSAL = apiKeyResolutionError(ApiKeyResolutionErrorCode.InvalidKey);
const USER_DISABLED_REFUSAL = apiKeyResolutionError(ApiKeyResolutionErrorCode.UserDisabled);

/** 401 `invalid_api_key` or 403 `identity_not_allowed`, the shared instance of each. */
export function keyRefusal(
  code: ApiKeyResolutionErrorCode.InvalidKey | ApiKeyResolutionErrorCode.UserDisabled,
): ApiError {
  return code === ApiKeyResolutionErrorCode.InvalidKey ? INVALID_KEY_REFUSAL : USER_DISABLED_REFUSAL;
}
