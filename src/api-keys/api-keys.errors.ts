import { ApiError } from 'src/errors/api-error';
import { assertUnreachable } from 'src/errors/assert-unreachable';

export enum ApiKeysErrorCode {
  KeyNotFound = 'api_key_not_found',
  BillingProviderNotFound = 'billing_provider_not_found',
  ProviderKeyAlreadyStored = 'provider_key_already_stored',
  ProviderKeyWithoutProvider = 'provider_key_without_provider',
  ProviderWithoutKey = 'provider_without_key',
  OrgNotAllowed = 'provisioning_org_not_allowed',
  UserDisabled = 'user_disabled',
  ScopesOnProviderKey = 'scopes_on_provider_key',
  KeyRevoked = 'api_key_revoked',
  ProviderKeyFixed = 'provider_key_fixed',
  KeyRolledAway = 'api_key_rolled_away',
  RollExpired = 'roll_expired',
  RollDisabled = 'roll_disabled',
  RollProviderKey = 'roll_provider_key',
}

/** 400 naming the requested scopes that API_KEY_SCOPES does not list (never the catalog itself). */
export function scopesOutsideCatalogError(outside: readonly string[]): ApiError {
  return ApiError.validation('scopes outside the allowed catalog', [
    { field: 'scopes', messages: outside.map((s) => `scope ${s} is not allowed`) },
  ]);
}

/**
 * 409 for a roll whose new key would hold scopes the catalog (API_KEY_SCOPES) no longer lists: a roll inherits
 * the scopes, and a key never holds scopes its minter could not grant now (decision 0017). Names only those.
 */
export function scopesNoLongerAllowedError(outside: readonly string[]): ApiError {
  return ApiError.conflict(
    `This API key holds scopes API_KEY_SCOPES no longer lists (${outside.join(', ')}): mint a new key instead.`,
  );
}

/** The API error each ApiKeys failure answers with. Another user's rows are "not found", never forbidden. */
export function apiKeysError(code: ApiKeysErrorCode): ApiError {
  switch (code) {
    case ApiKeysErrorCode.KeyNotFound:
      return ApiError.notFound('API key');
    case ApiKeysErrorCode.BillingProviderNotFound:
      return ApiError.notFound('Billing provider');
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
    case ApiKeysErrorCode.OrgNotAllowed:
      return ApiError.forbidden('This organization may not provision API keys.');
    case ApiKeysErrorCode.UserDisabled:
      return ApiError.identityNotAllowed(
        'This user is disabled: their API keys cannot be created or changed.',
      );
    case ApiKeysErrorCode.ScopesOnProviderKey:
      return ApiError.validation('scopes do not apply to provider-issued keys', [
        { field: 'scopes', messages: ['scopes cannot be given with billingProviderId'] },
      ]);
    case ApiKeysErrorCode.KeyRevoked:
      return ApiError.conflict('This API key is revoked: it cannot be changed.');
    case ApiKeysErrorCode.ProviderKeyFixed:
      // The provider decides a provider key's expiry and where it may be used; keysmith only stores it.
      return ApiError.validation('A provider-issued key accepts only label and enabled.');
    case ApiKeysErrorCode.KeyRolledAway:
      return ApiError.conflict('This API key was rolled: it cannot be changed or rolled again.');
    case ApiKeysErrorCode.RollExpired:
      return ApiError.conflict('This API key has expired: it cannot be rolled.');
    case ApiKeysErrorCode.RollDisabled:
      return ApiError.conflict('This API key is disabled: enable it before rolling it.');
    case ApiKeysErrorCode.RollProviderKey:
      return ApiError.conflict('A provider-issued key cannot be rolled here: the provider issues its keys.');
    default:
      return assertUnreachable(code);
  }
}
