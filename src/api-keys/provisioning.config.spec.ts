import { provisioningConfig } from 'src/api-keys/provisioning.config';
import { loadSlice } from 'src/config/config-slice';

describe('the provisioning slice (PROVISION_ALLOWED_ORG_IDS)', () => {
  it('parses the provisioning allowlist', () => {
    expect(
      loadSlice(provisioningConfig, { PROVISION_ALLOWED_ORG_IDS: ' org-a, org-b ,,' }).allowedOrgIds,
    ).toEqual(['org-a', 'org-b']);
  });

  it('has no allowlist when unset (every provisioning call is refused)', () => {
    expect(loadSlice(provisioningConfig, {}).allowedOrgIds).toBeUndefined();
  });
});
