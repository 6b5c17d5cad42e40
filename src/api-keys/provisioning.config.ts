import { defineConfig } from 'src/config/config-slice';
import type { EnvReader } from 'src/config/env-reader';

export interface ProvisioningConfig {
  /** PROVISION_ALLOWED_ORG_IDS; unset: every provisioning call is refused. */
  allowedOrgIds?: string[];
  /**
   * PROVISION_CLIENTS: the orgs each M2M client (its client id) may provision for, every one of them in
   * PROVISION_ALLOWED_ORG_IDS. Undefined when unset.
   */
  clients?: ReadonlyMap<string, readonly string[]>;
  /** Unset PROVISION_CLIENTS means "every client" in development, "no client" in production. */
  isProduction: boolean;
}

/**
 * `<clientId>:<org>|<org>,<clientId>:<org>,…`. The client id is everything before an entry's last `:` (client
 * ids may hold colons, org ids do not). Problems name the entry by its position, never its text.
 */
function parseClients(env: EnvReader, allowed: ReadonlySet<string>): Map<string, string[]> | undefined {
  const entries = env.list('PROVISION_CLIENTS');
  if (entries === undefined) return undefined;
  const clients = new Map<string, string[]>();
  entries.forEach((entry, i) => {
    const at = `PROVISION_CLIENTS entry ${i + 1}`;
    const colon = entry.lastIndexOf(':');
    const clientId = entry.slice(0, Math.max(colon, 0)).trim();
    const orgs = entry
      .slice(colon + 1)
      .split('|')
      .map((o) => o.trim())
      .filter(Boolean);
    if (colon <= 0 || clientId === '' || orgs.length === 0) {
      env.problem(`${at} must be <clientId>:<org>|<org>…`);
      return;
    }
    if (clients.has(clientId)) env.problem(`${at} names a client that an earlier entry names`);
    if (orgs.some((o) => !allowed.has(o)))
      env.problem(`${at} names an org that is not in PROVISION_ALLOWED_ORG_IDS`);
    clients.set(clientId, orgs);
  });
  return clients;
}

export const provisioningConfig = defineConfig('provisioning', (env): ProvisioningConfig => {
  const allowedOrgIds = env.list('PROVISION_ALLOWED_ORG_IDS');
  return {
    allowedOrgIds,
    clients: parseClients(env, new Set(allowedOrgIds ?? [])),
    isProduction: env.isProduction,
  };
});

/**
 * Which orgs a provisioning client may serve: its PROVISION_CLIENTS entry; with PROVISION_CLIENTS unset, every
 * org of PROVISION_ALLOWED_ORG_IDS in development and none in production. Always within the allowlist.
 */
export class ProvisioningClients {
  private readonly allowed: ReadonlySet<string>;

  constructor(private readonly config: ProvisioningConfig) {
    this.allowed = new Set(config.allowedOrgIds ?? []);
  }

  /** Whether no client can ever be served, and why: the start-up warnings. */
  get warnings(): string[] {
    if (this.allowed.size === 0)
      return ['PROVISION_ALLOWED_ORG_IDS is unset: every provisioning call answers 403'];
    if (this.config.clients !== undefined) return [];
    return this.config.isProduction
      ? ['PROVISION_CLIENTS is unset: in production every provisioning call answers 403']
      : [
          'PROVISION_CLIENTS is unset: every M2M client with provision:apikey may provision for every org in ' +
            'PROVISION_ALLOWED_ORG_IDS (development only; production answers 403)',
        ];
  }

  /** The orgs `clientId` may provision for. */
  orgsOf(clientId: string): readonly string[] {
    if (this.config.clients === undefined) return this.config.isProduction ? [] : [...this.allowed];
    return (this.config.clients.get(clientId) ?? []).filter((o) => this.allowed.has(o));
  }

  mayServe(clientId: string, orgId: string): boolean {
    return this.orgsOf(clientId).includes(orgId);
  }
}
