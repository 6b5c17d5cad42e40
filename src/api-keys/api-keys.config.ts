import { SCOPE_PATTERN } from 'src/api-keys/scopes';
import { defineConfig } from 'src/config/config-slice';

export interface ApiKeysConfig {
  /**
   * API_KEY_SCOPES: the only scopes a key may be minted or provisioned with. Undefined when unset: any scope
   * of the documented form.
   */
  scopeCatalog?: ReadonlySet<string>;
}

export const apiKeysConfig = defineConfig('api-keys', (env): ApiKeysConfig => {
  const scopes = env.list('API_KEY_SCOPES');
  if (scopes === undefined) return {};
  scopes.forEach((scope, i) => {
    if (!SCOPE_PATTERN.test(scope))
      env.problem(`API_KEY_SCOPES entry ${i + 1} must match ${SCOPE_PATTERN.source}`);
  });
  return { scopeCatalog: new Set(scopes) };
});

/** The scopes of `requested` that the catalog does not hold (none when there is no catalog). */
export function scopesOutsideCatalog(config: ApiKeysConfig, requested: readonly string[]): string[] {
  const catalog = config.scopeCatalog;
  return catalog === undefined ? [] : requested.filter((s) => !catalog.has(s));
}
