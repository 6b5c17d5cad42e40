import { defineConfig } from 'src/config/config-slice';

export interface ProvisioningConfig {
  /** PROVISION_ALLOWED_ORG_IDS; unset: every provisioning call is refused. */
  allowedOrgIds?: string[];
}

export const provisioningConfig = defineConfig('provisioning', (env): ProvisioningConfig => ({
  allowedOrgIds: env.list('PROVISION_ALLOWED_ORG_IDS'),
}));
