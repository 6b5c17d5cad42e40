import { billingProvidersConfig } from 'src/billing-providers/billing-providers.config';
import { loadSlice } from 'src/config/config-slice';
import type { Env } from 'src/config/env-reader';
import { configProblems } from 'test/helpers/config';

/** The problems the billing-providers slice finds in `env` (none: []). */
const problemsOf = (env: Env): string[] => configProblems(() => loadSlice(billingProvidersConfig, env));

describe('the billing-providers slice (BILLING_PROVIDERS)', () => {
  const good = {
    slug: 'acme',
    name: 'Acme Billing',
    authUrl: 'https://acme.test/auth',
    apiBase: 'https://api.acme.test/',
  };

  it('has no providers when unset', () => {
    expect(loadSlice(billingProvidersConfig, {}).providers).toEqual([]);
  });

  it('parses entries, trims apiBase and defaults enabled to true', () => {
    expect(
      loadSlice(billingProvidersConfig, { BILLING_PROVIDERS: JSON.stringify([good]) }).providers,
    ).toEqual([{ ...good, apiBase: 'https://api.acme.test', enabled: true }]);
  });

  it('refuses a bad BILLING_PROVIDERS and names it', () => {
    expect(problemsOf({ BILLING_PROVIDERS: '{not json' }).some((p) => p.includes('BILLING_PROVIDERS'))).toBe(
      true,
    );
  });

  it.each([
    ['a non-array', { a: 1 }, 'must be a JSON array'],
    ['a bad slug', [{ ...good, slug: 'Not A Slug' }], 'BILLING_PROVIDERS[0].slug'],
    ['a duplicate slug', [good, good], 'BILLING_PROVIDERS[1].slug'],
    ['a bad URL', [{ ...good, authUrl: 'javascript:alert(1)' }], 'BILLING_PROVIDERS[0].authUrl'],
    ['an unknown field', [{ ...good, secret: 'x' }], 'unknown fields'],
    ['a non-boolean enabled', [{ ...good, enabled: 'yes' }], 'BILLING_PROVIDERS[0].enabled'],
  ])('refuses %s', (_label, value, expected) => {
    expect(problemsOf({ BILLING_PROVIDERS: JSON.stringify(value) }).join('\n')).toContain(expected);
  });
});
