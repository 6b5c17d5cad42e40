import { ApiError } from 'src/errors/api-error';
import { assertUnreachable } from 'src/errors/assert-unreachable';

/** The expected failures of start and result, answered as the API's JSON errors. */
export enum OAuthSessionsErrorCode {
  ProviderNotFound = 'billing_provider_not_found',
  SessionNotFound = 'oauth_session_not_found',
  UserDisabled = 'user_disabled',
}

/** Another user's session is "not found", exactly as a session that never existed. */
export function oauthSessionsError(code: OAuthSessionsErrorCode): ApiError {
  switch (code) {
    case OAuthSessionsErrorCode.ProviderNotFound:
      return ApiError.notFound('Billing provider');
    case OAuthSessionsErrorCode.SessionNotFound:
      return ApiError.notFound('Login session');
    case OAuthSessionsErrorCode.UserDisabled:
      return ApiError.identityNotAllowed('This user is disabled and cannot link billing providers.');
    default:
      return assertUnreachable(code);
  }
}

/**
 * Why a session failed, as stored in `failure_reason` and answered by result (`{status:"failed", reason}`):
 * a fixed code, never the provider's words, a status line or anything the provider or the request sent.
 */
export enum OAuthFailureReason {
  /** The provider did not answer the exchange in time (OAUTH_EXCHANGE_TIMEOUT_MS). */
  ProviderTimeout = 'provider_timeout',
  /** The provider could not be reached (DNS, refused, reset). */
  ProviderUnreachable = 'provider_unreachable',
  /**
   * The provider's API host resolved only to addresses the outbound policy refuses (loopback in production,
   * private, link-local, unspecified, ...): nothing was sent, the provider's token included.
   */
  ProviderAddressRefused = 'provider_address_refused',
  /** The provider answered the exchange with a status other than 2xx (a redirect included). */
  ProviderRejected = 'provider_rejected',
  /** The provider's answer was not `{"api_key": "<key>"}` within the size bound. */
  ProviderInvalidResponse = 'provider_invalid_response',
  /** The provider redirected back without a usable `token`. */
  MissingToken = 'missing_token',
  /** The user was disabled between the start and the callback. */
  UserDisabled = 'identity_not_allowed',
  /** Five polls presented a wrong completion code: the key is erased, nobody gets it. */
  CompletionCodeRejected = 'completion_code_rejected',
  /** keysmith failed after the claim (an unexpected error; logged). */
  Internal = 'internal_error',
}
