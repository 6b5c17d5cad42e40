import { apiKeysConfig, scopesOutsideCatalog } from 'src/api-keys/api-keys.config';
import { loadSlice } from 'src/config/config-slice';
import { type ConfigValidationError, type Env } from 'src/config/env-reader';

const problems = (env: Env): string[] => {
  try {
    loadSlice(apiKeysConfig, env);
    return [];
  } catch (err) {
    return (err as ConfigValidationError).problems;
  }
};

describe('API_KEY_SCOPES', () => {
  it('unset: no catalog, every scope of the documented form passes', () => {
    const config = loadSlice(apiKeysConfig, {});
    expect(config.scopeCatalog).toBeUndefined();
    expect(scopesOutsideCatalog(config, ['anything:goes'])).toEqual([]);
  });

  it('set: only its scopes pass; the others are named in the order asked', () => {
    const config = loadSlice(apiKeysConfig, { API_KEY_SCOPES: ' billing:read, reports.export ,' });
    expect([...config.scopeCatalog!]).toEqual(['billing:read', 'reports.export']);
    expect(scopesOutsideCatalog(config, ['x', 'billing:read', 'a:b'])).toEqual(['x', 'a:b']);
  });

  it('refuses an entry of the wrong form, by position, without echoing it', () => {
    expect(problems({ API_KEY_SCOPES: 'ok,Not-OK secret' })).toEqual([
      'API_KEY_SCOPES entry 2 must match ^[a-z][a-z0-9:._-]{0,63}$',
    ]);
  });
});
