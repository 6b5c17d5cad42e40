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

describe('billing providers over plain http in production (issue 16, item 6)', () => {
  const entry = (authUrl: string, apiBase: string) =>
    JSON.stringify([{ slug: 'acme', name: 'Acme Billing', authUrl, apiBase }]);

  it.each([
    ['authUrl', 'http://acme.example/login', 'https://api.acme.example'],
    ['apiBase', 'https://acme.example/login', 'http://10.0.0.7:8080/api'],
  ])(
    'refuses an http:// %s off loopback, naming the entry field and ALLOW_INSECURE_HTTP, never the value',
    (field, authUrl, apiBase) => {
      const env = { NODE_ENV: 'production', BILLING_PROVIDERS: entry(authUrl, apiBase) };
      const problems = problemsOf(env);
      expect(problems).toEqual([expect.stringContaining(`BILLING_PROVIDERS[0].${field} must use https`)]);
      expect(problems[0]).toContain('ALLOW_INSECURE_HTTP');
      expect(problems[0]).not.toMatch(/acme\.example|10\.0\.0\.7/);
      expect(problemsOf({ ...env, ALLOW_INSECURE_HTTP: 'true' })).toEqual([]);
      // Development takes any scheme.
      expect(problemsOf({ BILLING_PROVIDERS: entry(authUrl, apiBase) })).toEqual([]);
    },
  );

  it('accepts https, and http on loopback', () => {
    for (const [authUrl, apiBase] of [
      ['https://acme.example/login', 'https://api.acme.example'],
      ['http://127.0.0.1:4000/login', 'http://localhost:4000/api'],
      ['http://[::1]:4000/login', 'http://127.8.9.10/api'],
    ])
      expect(problemsOf({ NODE_ENV: 'production', BILLING_PROVIDERS: entry(authUrl!, apiBase!) })).toEqual(
        [],
      );
  });
});
