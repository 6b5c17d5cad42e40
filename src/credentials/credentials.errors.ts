import { ApiError } from 'src/errors/api-error';
import { assertUnreachable } from 'src/errors/assert-unreachable';

export enum CredentialsErrorCode {
  CredentialNotFound = 'credential_not_found',
  UserDisabled = 'user_disabled',
  EndpointRefused = 'token_endpoint_refused',
  ClientIdRequired = 'client_id_required',
  ClientSecretRequired = 'client_secret_required',
  ClientSecretUnused = 'client_secret_unused',
  ReauthorizationRequired = 'reauthorization_required',
  ClientSecretExpired = 'client_secret_expired',
  UpstreamFailed = 'upstream_failed',
  RefreshBusy = 'refresh_busy',
}

/** How long a caller should wait when refreshes are saturated on this instance. */
export const REFRESH_BUSY_RETRY_AFTER_SECONDS = 5;

/**
 * The API error each Credentials failure answers with. Another user's credential, and a user id that does
 * not exist, are "not found". `detail` is a refusal reason for the 400 of a refused token endpoint.
 */
export function credentialsError(code: CredentialsErrorCode, detail?: string): ApiError {
  switch (code) {
    case CredentialsErrorCode.CredentialNotFound:
      return ApiError.notFound('MCP OAuth credential');
    case CredentialsErrorCode.UserDisabled:
      return new ApiError(
        'identity_not_allowed',
        'This user is disabled and cannot use MCP OAuth credentials.',
      );
    case CredentialsErrorCode.EndpointRefused: {
      const message = detail ?? 'tokenEndpoint is not allowed';
      return ApiError.validation(message, [{ field: 'tokenEndpoint', messages: [message] }]);
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
    case CredentialsErrorCode.ClientSecretExpired:
      return new ApiError(
        'reauthorization_required',
        'The stored client secret has expired: the user must authorize the MCP server again.',
      );
    case CredentialsErrorCode.UpstreamFailed:
      return new ApiError(
        'upstream_failed',
        'The MCP server’s token endpoint did not issue an access token.',
      );
    case CredentialsErrorCode.RefreshBusy:
      return new ApiError('service_unavailable', 'Too many token refreshes in progress. Retry later.', {
        retryAfterSeconds: REFRESH_BUSY_RETRY_AFTER_SECONDS,
      });
    default:
      return assertUnreachable(code);
  }
}
