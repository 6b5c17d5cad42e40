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
      return new ApiError('identity_not_allowed', 'This user is disabled and cannot link billing providers.');
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

/** What the callback page says, and with which status. */
export enum CallbackOutcome {
  Success = 'success',
  /** Unknown or malformed state, or a state of another provider (or of a provider since disabled). */
  UnknownState = 'unknown_state',
  /** The state was used already: completed, redeemed, failed, or another callback is exchanging it. */
  AlreadyUsed = 'already_used',
  Expired = 'expired',
  MissingToken = 'missing_token',
  UserDisabled = 'user_disabled',
  ExchangeFailed = 'exchange_failed',
  /**
   * Nothing was claimed (no encryption key on this instance, or the database failed before the claim): the
   * same link works once the problem is gone.
   */
  Unavailable = 'unavailable',
  Internal = 'internal_error',
}

export interface CallbackPageText {
  status: number;
  title: string;
  /** What happened. */
  message: string;
  /** What to do now. */
  next: string;
}

const START_AGAIN = 'Close this tab, go back to the settings page and start linking the provider again.';

export function callbackPageText(outcome: CallbackOutcome, provider: string): CallbackPageText {
  switch (outcome) {
    case CallbackOutcome.Success:
      return {
        status: 200,
        title: `Signed in to ${provider}`,
        message: `keysmith received your ${provider} API key.`,
        next:
          'Go back to the settings page where you started: it finishes linking the provider (this tab ' +
          'closes itself). Only the settings page that opened this tab can finish it.',
      };
    case CallbackOutcome.UnknownState:
      return {
        status: 400,
        title: 'Sign-in link not recognised',
        message:
          'This sign-in link does not belong to a login keysmith started, or it was changed on the way.',
        next: START_AGAIN,
      };
    case CallbackOutcome.AlreadyUsed:
      return {
        status: 400,
        title: 'Sign-in link already used',
        message: 'This sign-in link was already used. Each link works once.',
        next: 'Go back to the settings page: it shows whether the provider is linked. If not, start again.',
      };
    case CallbackOutcome.Expired:
      return {
        status: 400,
        title: 'Sign-in expired',
        message: 'This login took too long and has expired.',
        next: START_AGAIN,
      };
    case CallbackOutcome.MissingToken:
      return {
        status: 400,
        title: 'Sign-in not completed',
        message: `${provider} sent you back without completing the sign-in.`,
        next: START_AGAIN,
      };
    case CallbackOutcome.UserDisabled:
      return {
        status: 403,
        title: 'Account disabled',
        message: 'Your account is disabled and cannot link billing providers.',
        next: 'Contact your administrator.',
      };
    case CallbackOutcome.ExchangeFailed:
      return {
        status: 502,
        title: 'Could not get your key',
        message: `You signed in, but ${provider} did not hand over your API key.`,
        next: `${START_AGAIN} If it keeps failing, ${provider} may be having trouble; try again later.`,
      };
    case CallbackOutcome.Unavailable:
      return {
        status: 503,
        title: 'Temporarily unavailable',
        message: 'keysmith cannot complete the sign-in right now. Nothing was used up.',
        next: 'Reload this page in a few minutes. If it keeps failing, contact your administrator.',
      };
    case CallbackOutcome.Internal:
      return {
        status: 500,
        title: 'Something went wrong',
        message: 'keysmith could not finish linking the provider.',
        next: START_AGAIN,
      };
    default:
      return assertUnreachable(outcome);
  }
}
