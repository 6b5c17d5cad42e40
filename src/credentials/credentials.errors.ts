import { ApiError } from 'src/errors/api-error';
import { assertUnreachable } from 'src/errors/assert-unreachable';

export enum CredentialsErrorCode {
  CredentialNotFound = 'credential_not_found',
  UserDisabled = 'user_disabled',
  EndpointRefused = 'token_endpoint_refused',
  ResourceRefused = 'resource_refused',
  RevocationEndpointRefused = 'revocation_endpoint_refused',
  ClientIdRequired = 'client_id_required',
  ClientSecretRequired = 'client_secret_required',
  ClientSecretUnused = 'client_secret_unused',
  ReauthorizationRequired = 'reauthorization_required',
  /** A deposit's validation refresh got `invalid_grant`: nothing stored. */
  DepositRefused = 'deposit_refused',
  ClientSecretExpired = 'client_secret_expired',
  RefreshBusy = 'refresh_busy',
  UserRefreshesBusy = 'user_refreshes_busy',
  HostRefreshesBusy = 'host_refreshes_busy',
}

/** How long a caller should wait when refreshes are saturated on this instance. */
export const REFRESH_BUSY_RETRY_AFTER_SECONDS = 5;

/**
 * Why a refresh answered 502 `upstream_failed`: the `reason` of the error body, a fixed vocabulary that never
 * carries the provider's text.
 */
export const UPSTREAM_FAILURE_REASONS = [
  /** The outbound policy refused the endpoint or every address it resolved to; nothing was sent. */
  'host_refused',
  /** The token endpoint refused the client's authentication (401, 403, `invalid_client`, `unauthorized_client`). */
  'client_rejected',
  /** The token endpoint refused the request otherwise (another 4xx, `invalid_scope`, `invalid_request`, …). */
  'request_rejected',
  /** Unreachable (DNS, connection), or a 5xx or 429. */
  'provider_unavailable',
  /** No complete answer within CREDENTIALS_REFRESH_TIMEOUT_MS. */
  'timeout',
  /** An answer that is not a token response: a redirect, no access token, over 64 KiB. */
  'invalid_response',
  /** Not tried: the credential failed too often in a row and is backing off until `Retry-After`. */
  'backing_off',
] as const;
export type UpstreamFailureReason = (typeof UPSTREAM_FAILURE_REASONS)[number];

const UPSTREAM_MESSAGES: Record<UpstreamFailureReason, string> = {
  host_refused: 'The outbound policy refuses the token endpoint’s host.',
  client_rejected: 'The token endpoint rejected the client authentication.',
  request_rejected: 'The token endpoint rejected the refresh request.',
  provider_unavailable: 'The token endpoint could not be reached or failed.',
  timeout: 'The token endpoint did not answer in time.',
  invalid_response: 'The token endpoint did not answer with a usable token response.',
  backing_off: 'The token endpoint failed repeatedly; refreshes are paused until Retry-After.',
};

/** 502 `upstream_failed` with its `reason`, and `Retry-After` while the credential backs off. */
export function upstreamFailed(reason: UpstreamFailureReason, retryAfterSeconds?: number): ApiError {
  return new ApiError('upstream_failed', UPSTREAM_MESSAGES[reason], {
    reason,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  });
}

/**
 * The API error each Credentials failure answers with. Another user's credential, and a user id that does
 * not exist, are "not found". `detail` is a refusal reason for the 400 of a refused token endpoint.
 */
export function credentialsError(code: CredentialsErrorCode, detail?: string): ApiError {
  switch (code) {
    case CredentialsErrorCode.CredentialNotFound:
      return ApiError.notFound('MCP OAuth credential');
    case CredentialsErrorCode.UserDisabled:
      return ApiError.identityNotAllowed('This user is disabled and cannot use MCP OAuth credentials.');
    case CredentialsErrorCode.EndpointRefused: {
      const message = detail ?? 'tokenEndpoint is not allowed';
      return ApiError.validation(message, [{ field: 'tokenEndpoint', messages: [message] }]);
    }
    case CredentialsErrorCode.RevocationEndpointRefused: {
      const message = detail ?? 'revocationEndpoint is not allowed';
      return ApiError.validation(message, [{ field: 'revocationEndpoint', messages: [message] }]);
    }
    case CredentialsErrorCode.ResourceRefused: {
      const message = detail ?? 'resource is not allowed';
      return ApiError.validation(message, [{ field: 'resource', messages: [message] }]);
    }
    case CredentialsErrorCode.ClientIdRequired:
      return ApiError.validation('clientId is required with this authMethod', [
        {
          field: 'clientId',
          messages: ['clientId is required with client_secret_basic and client_secret_post'],
        },
      ]);
    case CredentialsErrorCode.ClientSecretRequired:
      return ApiError.validation('clientSecret is required with this authMethod', [
        {
          field: 'clientSecret',
          messages: ['clientSecret is required with client_secret_basic and client_secret_post'],
        },
      ]);
    case CredentialsErrorCode.ClientSecretUnused:
      return ApiError.validation('clientSecret cannot be used with authMethod none', [
        { field: 'clientSecret', messages: ['clientSecret cannot be used with authMethod none'] },
      ]);
    case CredentialsErrorCode.ReauthorizationRequired:
      return new ApiError(
        'reauthorization_required',
        'The MCP server refused the stored refresh token: the user must authorize it again.',
      );
    case CredentialsErrorCode.DepositRefused:
      return new ApiError(
        'reauthorization_required',
        'The token endpoint refused this refresh token (invalid_grant): nothing was stored; authorize the MCP server again.',
      );
    case CredentialsErrorCode.ClientSecretExpired:
      return new ApiError(
        'reauthorization_required',
        'The stored client secret has expired: the user must authorize the MCP server again.',
      );
    case CredentialsErrorCode.RefreshBusy:
      return new ApiError('service_unavailable', 'Too many token refreshes in progress. Retry later.', {
        retryAfterSeconds: REFRESH_BUSY_RETRY_AFTER_SECONDS,
      });
    case CredentialsErrorCode.UserRefreshesBusy:
      return new ApiError(
        'service_unavailable',
        'Too many token refreshes in progress for this user. Retry later.',
        { retryAfterSeconds: REFRESH_BUSY_RETRY_AFTER_SECONDS },
      );
    case CredentialsErrorCode.HostRefreshesBusy:
      return new ApiError(
        'service_unavailable',
        'Too many token refreshes in progress at this token endpoint’s host. Retry later.',
        { retryAfterSeconds: REFRESH_BUSY_RETRY_AFTER_SECONDS },
      );
    default:
      return assertUnreachable(code);
  }
}
