import { authConfig } from 'src/auth/auth.config';
import { loadAppConfig } from 'src/app.registrations';
import { loadSlice } from 'src/config/config-slice';
import type { Env } from 'src/config/env-reader';
import { configProblems, testSigningKey } from 'test/helpers/config';

// When both JWT tiers trust the development issuer (AUTH_DEVELOPMENT_ISSUER, decision 0045).
const developmentIssuer = (env: Env): boolean => loadSlice(authConfig, env).developmentIssuer;

/** A production environment that starts (everything production requires, both tiers configured). */
const production: Env = {
  NODE_ENV: 'production',
  OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
  SETTINGS_UI_ORIGIN: 'https://settings.example.com',
  TOKEN_SIGNING_KEY: testSigningKey(),
  ADMIN_TOKEN: 'a'.repeat(40),
  METRICS_TOKEN: 'm'.repeat(40),
  ORG_ID: 'org-1',
  AUTH_SESSION_JWKS_URI: 'https://idp.example/.well-known/jwks.json',
  AUTH_SESSION_ISSUER: 'https://idp.example/',
  AUTH_SESSION_AUDIENCE: 'keysmith-ui',
  AUTH_M2M_JWKS_URI: 'https://auth.example/.well-known/jwks.json',
  AUTH_M2M_ISSUER: 'https://auth.example/',
  AUTH_M2M_AUDIENCE: 'keysmith-internal',
};

describe('the development issuer setting', () => {
  it('is on outside production when no AUTH_SESSION_* or AUTH_M2M_* variable is set', () => {
    expect(developmentIssuer({})).toBe(true);
    expect(developmentIssuer({ NODE_ENV: 'development' })).toBe(true);
    expect(developmentIssuer({ NODE_ENV: 'test', AUTH_JWKS_REFETCH_INTERVAL_SECONDS: '10' })).toBe(true);
  });

  it.each([
    ['AUTH_SESSION_JWKS_URI', 'https://idp.example/jwks'],
    ['AUTH_SESSION_SECRET', 's'.repeat(40)],
    ['AUTH_SESSION_MAX_TOKEN_LIFETIME_SECONDS', '600'],
    ['AUTH_M2M_JWKS_URI', 'https://auth.example/jwks'],
    ['AUTH_M2M_AUDIENCE', 'keysmith-internal'],
    ['AUTH_M2M_CLIENT_IDS', 'gw'],
  ])('is off as soon as %s is set (a real issuer is being configured)', (name, value) => {
    expect(developmentIssuer({ [name]: value })).toBe(false);
  });

  it('is off with AUTH_DEVELOPMENT_ISSUER=false', () => {
    expect(developmentIssuer({ AUTH_DEVELOPMENT_ISSUER: 'false' })).toBe(false);
  });

  it('is refused next to a real issuer, naming AUTH_DEVELOPMENT_ISSUER', () => {
    const problems = configProblems(() =>
      loadSlice(authConfig, { AUTH_DEVELOPMENT_ISSUER: 'true', AUTH_M2M_JWKS_URI: 'https://auth.example/j' }),
    );
    expect(problems).toEqual([
      expect.stringContaining('AUTH_DEVELOPMENT_ISSUER=true is refused next to a real issuer'),
    ]);
  });

  describe('production', () => {
    it('never trusts it: off by default, whatever is configured', () => {
      expect(loadAppConfig(production).get(authConfig).developmentIssuer).toBe(false);
    });

    it('refuses a start where only the development issuer would be trusted, naming the variables to set', () => {
      const withoutIssuers = Object.fromEntries(
        Object.entries(production).filter(([name]) => !/^AUTH_(SESSION|M2M)_/.test(name)),
      );
      const problems = configProblems(() =>
        loadAppConfig({ ...withoutIssuers, AUTH_DEVELOPMENT_ISSUER: 'true' }),
      );
      expect(problems).toHaveLength(1);
      for (const variable of [
        'AUTH_DEVELOPMENT_ISSUER',
        'AUTH_SESSION_JWKS_URI',
        'AUTH_SESSION_SECRET',
        'AUTH_SESSION_ISSUER',
        'AUTH_SESSION_AUDIENCE',
        'AUTH_M2M_JWKS_URI',
        'AUTH_M2M_ISSUER',
        'AUTH_M2M_AUDIENCE',
      ]) {
        expect(problems[0]).toContain(variable);
      }
    });

    it('refuses AUTH_DEVELOPMENT_ISSUER=true next to real issuers as well', () => {
      const problems = configProblems(() =>
        loadAppConfig({ ...production, AUTH_DEVELOPMENT_ISSUER: 'true' }),
      );
      expect(problems).toEqual([
        expect.stringContaining('AUTH_DEVELOPMENT_ISSUER=true is refused in production'),
      ]);
    });
  });
});
