import { allowsInsecureHttp, insecureHttpProblem } from 'src/config/app-config';
import { defineConfig } from 'src/config/config-slice';
import { isUrl, type EnvReader } from 'src/config/env-reader';
import { isInsecureRemoteUrl } from 'src/config/loopback';

export interface BillingProviderConfig {
  slug: string;
  name: string;
  authUrl: string;
  apiBase: string;
  enabled: boolean;
}

export interface BillingProvidersConfig {
  providers: BillingProviderConfig[];
}

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;
const FIELDS = ['slug', 'name', 'authUrl', 'apiBase', 'enabled'];

/** BILLING_PROVIDERS: a JSON array of `{slug, name, authUrl, apiBase, enabled?}`; unset: none. */
export const billingProvidersConfig = defineConfig('billing-providers', (env): BillingProvidersConfig => ({
  providers: parseBillingProviders(env.str('BILLING_PROVIDERS'), env),
}));

function parseBillingProviders(raw: string | undefined, env: EnvReader): BillingProviderConfig[] {
  if (raw === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed)) {
    env.problem('BILLING_PROVIDERS must be a JSON array');
    return [];
  }
  const providers: BillingProviderConfig[] = [];
  const seen = new Set<string>();
  parsed.forEach((entry: unknown, i) => {
    const where = `BILLING_PROVIDERS[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      env.problem(`${where} must be an object`);
      return;
    }
    const e = entry as Record<string, unknown>;
    const unknownKeys = Object.keys(e).filter((k) => !FIELDS.includes(k));
    if (unknownKeys.length) env.problem(`${where} has unknown fields: ${unknownKeys.join(', ')}`);
    const { slug, name, authUrl, apiBase, enabled } = e;
    if (typeof slug !== 'string' || !SLUG.test(slug)) env.problem(`${where}.slug must match ${SLUG.source}`);
    else if (seen.has(slug)) env.problem(`${where}.slug duplicates another entry`);
    if (typeof name !== 'string' || name.trim().length === 0 || name.length > 100) {
      env.problem(`${where}.name must be a string of 1 to 100 characters`);
    }
    for (const [field, value] of [
      ['authUrl', authUrl],
      ['apiBase', apiBase],
    ] as const) {
      if (typeof value !== 'string' || !isUrl(value, ['http:', 'https:']))
        env.problem(`${where}.${field} must be a URL`);
      // The exchange carries the provider's bearer token and returns an API key; the login page takes the
      // user's credentials: clear text only on this machine, or when the operator said so (decision 0043).
      else if (env.isProduction && isInsecureRemoteUrl(value) && !allowsInsecureHttp(env))
        env.problem(insecureHttpProblem(`${where}.${field}`));
    }
    if (enabled !== undefined && typeof enabled !== 'boolean')
      env.problem(`${where}.enabled must be a boolean`);
    if (typeof slug === 'string') seen.add(slug);
    providers.push({
      slug: String(slug),
      name: String(name).trim(),
      authUrl: String(authUrl),
      apiBase: String(apiBase).replace(/\/+$/, ''),
      enabled: enabled !== false,
    });
  });
  return providers;
}
