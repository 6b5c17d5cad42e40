import type { MigrationInterface } from 'typeorm';
import { InitialSchema1795419051625 } from 'migrations/1795419051625-InitialSchema';
import { UniqueApiKeyHash1795419499683 } from 'migrations/1795419499683-UniqueApiKeyHash';
import { AddOAuthSessions1796151589411 } from 'migrations/1796151589411-AddOAuthSessions';
import { AddMcpOAuthCredentials1796151607278 } from 'migrations/1796151607278-AddMcpOAuthCredentials';
import { AddAuditCallerRequestId1796154835854 } from 'migrations/1796154835854-AddAuditCallerRequestId';
import { MaskProviderKeyPrefixes1796154900000 } from 'migrations/1796154900000-MaskProviderKeyPrefixes';
import { AddApiKeyAdminOrg1796155398216 } from 'migrations/1796155398216-AddApiKeyAdminOrg';
import { RecordProvisioningOrigin1796155751086 } from 'migrations/1796155751086-RecordProvisioningOrigin';
import { AddOAuthCompletionCode1796624300899 } from 'migrations/1796624300899-AddOAuthCompletionCode';
import { RecordEncryptionKeyChecks1796624330437 } from 'migrations/1796624330437-RecordEncryptionKeyChecks';
import { AddCredentialResourceAndBackoff1796624399156 } from 'migrations/1796624399156-AddCredentialResourceAndBackoff';
import { AddDevelopmentIssuerKeys1796626484643 } from 'migrations/1796626484643-AddDevelopmentIssuerKeys';
import { AddApiKeyScopes1796629895348 } from 'migrations/1796629895348-AddApiKeyScopes';
import { AddApiKeyStates1796700000000 } from 'migrations/1796700000000-AddApiKeyStates';
import { AddApiKeyRolls1796800000000 } from 'migrations/1796800000000-AddApiKeyRolls';
import { AddApiKeyConsumers1796810000000 } from 'migrations/1796810000000-AddApiKeyConsumers';
import { AddOrgTokenScopesAndRoll1796820000000 } from 'migrations/1796820000000-AddOrgTokenScopesAndRoll';
import { AddOrgTokenRevokedReason1796830000000 } from 'migrations/1796830000000-AddOrgTokenRevokedReason';
import { AddAdminInventory1796840000000 } from 'migrations/1796840000000-AddAdminInventory';
import { AddWebhooks1796910000000 } from 'migrations/1796910000000-AddWebhooks';
import { AddApiKeyUsage1796920000000 } from 'migrations/1796920000000-AddApiKeyUsage';
import { AddOrgTokenMintedFor1796950000000 } from 'migrations/1796950000000-AddOrgTokenMintedFor';
import { AddEventsOccurredAtIndex1797020000000 } from 'migrations/1797020000000-AddEventsOccurredAtIndex';
import { AddApiKeyUsageDays1797030000000 } from 'migrations/1797030000000-AddApiKeyUsageDays';

/** Every migration, in order. A generated migration is added here by hand (see README, "Migrations"). */
export const MIGRATIONS: (new () => MigrationInterface)[] = [
  InitialSchema1795419051625,
  UniqueApiKeyHash1795419499683,
  AddOAuthSessions1796151589411,
  AddMcpOAuthCredentials1796151607278,
  AddAuditCallerRequestId1796154835854,
  MaskProviderKeyPrefixes1796154900000,
  AddApiKeyAdminOrg1796155398216,
  RecordProvisioningOrigin1796155751086,
  AddOAuthCompletionCode1796624300899,
  RecordEncryptionKeyChecks1796624330437,
  AddCredentialResourceAndBackoff1796624399156,
  AddDevelopmentIssuerKeys1796626484643,
  AddApiKeyScopes1796629895348,
  AddApiKeyStates1796700000000,
  AddApiKeyRolls1796800000000,
  AddApiKeyConsumers1796810000000,
  AddOrgTokenScopesAndRoll1796820000000,
  AddOrgTokenRevokedReason1796830000000,
  AddAdminInventory1796840000000,
  AddWebhooks1796910000000,
  AddApiKeyUsage1796920000000,
  AddOrgTokenMintedFor1796950000000,
  AddEventsOccurredAtIndex1797020000000,
  AddApiKeyUsageDays1797030000000,
];
