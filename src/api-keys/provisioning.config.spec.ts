import { ProvisioningClients, provisioningConfig } from 'src/api-keys/provisioning.config';
import { loadSlice } from 'src/config/config-slice';
import { type ConfigValidationError, type Env } from 'src/config/env-reader';

const problems = (env: Env): string[] => {
  try {
    loadSlice(provisioningConfig, env);
    return [];
  } catch (err) {
    return (err as ConfigValidationError).problems;
  }
};
const clients = (env: Env): ProvisioningClients =>
  new ProvisioningClients(loadSlice(provisioningConfig, env));
const ALLOWED = { PROVISION_ALLOWED_ORG_IDS: 'org-a, org-b,org-c' };

describe('PROVISION_CLIENTS', () => {
  it('binds each client to its orgs, and nothing else', () => {
    const c = clients({ ...ALLOWED, PROVISION_CLIENTS: 'svc-a:org-a|org-b, svc-b:org-c' });
    expect(c.orgsOf('svc-a')).toEqual(['org-a', 'org-b']);
    expect(c.mayServe('svc-a', 'org-a')).toBe(true);
    expect(c.mayServe('svc-a', 'org-c')).toBe(false);
    expect(c.mayServe('svc-b', 'org-c')).toBe(true);
    expect(c.mayServe('svc-unknown', 'org-a')).toBe(false);
    expect(c.warnings).toEqual([]);
  });

  it('takes the client id as everything before the last colon', () => {
    const c = clients({ ...ALLOWED, PROVISION_CLIENTS: 'https://idp.example:8443/svc:org-b' });
    expect(c.mayServe('https://idp.example:8443/svc', 'org-b')).toBe(true);
  });

  it('unset: every allowed org for every client in development, none in production, with a warning', () => {
    const dev = clients(ALLOWED);
    expect(dev.mayServe('anyone', 'org-c')).toBe(true);
    expect(dev.mayServe('anyone', 'org-z')).toBe(false);
    expect(dev.warnings.join()).toMatch(/PROVISION_CLIENTS is unset/);
    const prod = clients({ ...ALLOWED, NODE_ENV: 'production' });
    expect(prod.mayServe('anyone', 'org-a')).toBe(false);
    expect(prod.warnings).toEqual([
      'PROVISION_CLIENTS is unset: in production every provisioning call answers 403',
    ]);
  });

  it('never serves an org outside PROVISION_ALLOWED_ORG_IDS', () => {
    expect(clients({}).mayServe('anyone', 'org-a')).toBe(false);
    expect(clients({}).warnings.join()).toMatch(/PROVISION_ALLOWED_ORG_IDS is unset/);
  });

  it.each([
    ['an entry without a colon', 'svc-a', 'PROVISION_CLIENTS entry 1 must be <clientId>:<org>|<org>…'],
    [
      'an entry without orgs',
      'svc-a:org-a,svc-b:',
      'PROVISION_CLIENTS entry 2 must be <clientId>:<org>|<org>…',
    ],
    ['an entry without a client', ':org-a', 'PROVISION_CLIENTS entry 1 must be <clientId>:<org>|<org>…'],
    [
      'an org outside the allowlist',
      'svc-a:org-a|org-secret',
      'PROVISION_CLIENTS entry 1 names an org that is not in PROVISION_ALLOWED_ORG_IDS',
    ],
    [
      'a client named twice',
      'svc-a:org-a,svc-a:org-b',
      'PROVISION_CLIENTS entry 2 names a client that an earlier entry names',
    ],
  ])('refuses %s, naming the entry but not its text', (_label, value, problem) => {
    const found = problems({ ...ALLOWED, PROVISION_CLIENTS: value });
    expect(found).toEqual([problem]);
    expect(found.join()).not.toContain('org-secret');
  });
});

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
