import { apiKeysConfig } from 'src/api-keys/api-keys.config';
import { provisioningConfig } from 'src/api-keys/provisioning.config';
import { PROVISION_RATE_LIMIT } from 'src/api-keys/provisioning.rate-limits';
import { ADMIN_RATE_LIMIT } from 'src/auth/admin/admin.rate-limits';
import { authConfig } from 'src/auth/auth.config';
import { billingProvidersConfig } from 'src/billing-providers/billing-providers.config';
import { appConfig } from 'src/config/app-config';
import { loadConfig, type ConfigSlice, type LoadedConfig } from 'src/config/config-slice';
import type { Env } from 'src/config/env-reader';
import { credentialsConfig } from 'src/credentials/credentials.config';
import { credentialsEncryptedTable } from 'src/credentials/credentials.encrypted-table';
import { CREDENTIALS_ACCESS_TOKEN_RATE_LIMIT } from 'src/credentials/credentials.rate-limits';
import type { EncryptedTable } from 'src/crypto/encryption/encrypted-tables';
import { encryptionConfig } from 'src/crypto/encryption/encryption.config';
import type { RewrapApp } from 'src/crypto/encryption/rewrap-command';
import { signingConfig } from 'src/crypto/signing/signing.config';
import { eventsConfig } from 'src/events/events.config';
import { WEBHOOK_ENDPOINTS_ENCRYPTED_TABLE } from 'src/events/events.encrypted-table';
import { httpConfig } from 'src/http/http.config';
import { keyUsageConfig } from 'src/key-usage/key-usage.config';
import { leaksConfig } from 'src/leaks/leaks.config';
import { PUBLIC_REVOKE_RATE_LIMIT } from 'src/leaks/leaks.rate-limits';
import { oauthSessionsConfig } from 'src/oauth-sessions/oauth-sessions.config';
import { OAUTH_SESSIONS_ENCRYPTED_TABLE } from 'src/oauth-sessions/oauth-sessions.encrypted-table';
import {
  OAUTH_CALLBACK_RATE_LIMIT,
  OAUTH_START_RATE_LIMIT,
  OAUTH_START_USER_RATE_LIMIT,
} from 'src/oauth-sessions/oauth-sessions.rate-limits';
import { ORG_TOKEN_MINT_RATE_LIMIT } from 'src/org-tokens/org-tokens.rate-limits';
import { rateLimitConfig } from 'src/rate-limit/rate-limit.config';
import type { RateLimitPolicy } from 'src/rate-limit/rate-limit-policy';
import { DEVELOPER_WRITE_RATE_LIMIT } from 'src/users/users.rate-limits';

// What the app consists of besides its modules, each named here so that deleting an import is a type error
// rather than a slice that is silently not validated, a RATE_LIMIT_* variable refused, or a table the start
// check and the rewrap never read. A new feature adds its slice, policies and encrypted tables here;
// src/app.registrations.spec.ts fails while anything defined in src/ is missing.

/** Every config slice, in the order their problems are reported. */
export const CONFIG_SLICES: readonly ConfigSlice<unknown>[] = [
  appConfig,
  authConfig,
  signingConfig,
  billingProvidersConfig,
  apiKeysConfig,
  provisioningConfig,
  credentialsConfig,
  encryptionConfig,
  oauthSessionsConfig,
  leaksConfig,
  keyUsageConfig,
  rateLimitConfig,
  httpConfig,
  eventsConfig,
];

/**
 * Every rate-limit policy: the names `RATE_LIMIT_<POLICY>` variables may use. Listed, they are defined before
 * the rate-limit slice is loaded, also where no controller is imported (the rewrap).
 */
export const RATE_LIMIT_POLICIES: readonly RateLimitPolicy[] = [
  ADMIN_RATE_LIMIT,
  DEVELOPER_WRITE_RATE_LIMIT,
  PROVISION_RATE_LIMIT,
  CREDENTIALS_ACCESS_TOKEN_RATE_LIMIT,
  OAUTH_START_RATE_LIMIT,
  OAUTH_START_USER_RATE_LIMIT,
  OAUTH_CALLBACK_RATE_LIMIT,
  ORG_TOKEN_MINT_RATE_LIMIT,
  PUBLIC_REVOKE_RATE_LIMIT,
];

/** Every table that keeps encrypted values: what the start key check and the rewrap read. */
export const ENCRYPTED_TABLES: readonly EncryptedTable[] = [
  credentialsEncryptedTable,
  OAUTH_SESSIONS_ENCRYPTED_TABLE,
  WEBHOOK_ENDPOINTS_ENCRYPTED_TABLE,
];

/**
 * The service's whole configuration from `env` (CONFIG_SLICES); throws one ConfigValidationError listing
 * every problem.
 */
export function loadAppConfig(env: Env): LoadedConfig {
  return loadConfig(env, CONFIG_SLICES);
}

/** The app as `npm run credentials:rewrap` needs it. */
export const APP_REGISTRATIONS: RewrapApp = { loadConfig: loadAppConfig, encryptedTables: ENCRYPTED_TABLES };
