import { ApiError } from 'src/errors/api-error';
import { assertUnreachable } from 'src/errors/assert-unreachable';

export enum ApiKeysErrorCode {
  ProjectNotFound = 'project_not_found',
  ProjectNameTaken = 'project_name_taken',
  KeyNotFound = 'api_key_not_found',
  BillingProviderNotFound = 'billing_provider_not_found',
  ProviderKeyAlreadyStored = 'provider_key_already_stored',
  ProviderKeyWithoutProvider = 'provider_key_without_provider',
  ProviderWithoutKey = 'provider_without_key',
  ExpiryNotInFuture = 'expiry_not_in_future',
}

/** The API error each ApiKeys failure answers with. Another user's rows are "not found", never forbidden. */
export function apiKeysError(code: ApiKeysErrorCode): ApiError {
  switch (code) {
    case ApiKeysErrorCode.ProjectNotFound:
      return ApiError.notFound('Project');
    case ApiKeysErrorCode.KeyNotFound:
      return ApiError.notFound('API key');
    case ApiKeysErrorCode.BillingProviderNotFound:
      return ApiError.notFound('Billing provider');
    case ApiKeysErrorCode.ProjectNameTaken:
      return ApiError.conflict('You already have a project with this name.');
    case ApiKeysErrorCode.ProviderKeyAlreadyStored:
      return ApiError.conflict('This provider key is already stored.');
    case ApiKeysErrorCode.ProviderKeyWithoutProvider:
      return ApiError.validation('rawApiKey requires billingProviderId', [
        { field: 'billingProviderId', messages: ['billingProviderId is required with rawApiKey'] },
      ]);
    case ApiKeysErrorCode.ProviderWithoutKey:
      return ApiError.validation('billingProviderId requires rawApiKey', [
        { field: 'rawApiKey', messages: ['rawApiKey is required with billingProviderId'] },
      ]);
    case ApiKeysErrorCode.ExpiryNotInFuture:
      return ApiError.validation('expiresAt must be a future date-time with a time zone', [
        {
          field: 'expiresAt',
          messages: [
            'expiresAt must be an ISO 8601 date-time with Z or an offset, in the future, before year 10000',
          ],
        },
      ]);
    default:
      return assertUnreachable(code);
  }
}
