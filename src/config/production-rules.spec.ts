import { authConfig } from 'src/auth/auth.config';
import { appConfig } from 'src/config/app-config';
import { loadAppConfig } from 'src/app.registrations';
import type { Env } from 'src/config/env-reader';
import { configProblems, testSigningKey } from 'test/helpers/config';

// Rules that span slices (the process's origin and the auth tiers): what production refuses, and the auth
// settings added by the hardening review, through the whole configuration as the app loads it.

/** A real signing key: production refuses to start without one. */
const TOKEN_SIGNING_KEY = testSigningKey();

const problemsOf = (env: Env): string[] => configProblems(() => loadAppConfig(env));

/** The process's and the auth tiers' settings side by side. */
function settingsOf(env: Env) {
  const config = loadAppConfig(env);
  return { ...config.get(appConfig), ...config.get(authConfig) };
}

describe('the configuration: production rules and the hardened auth settings', () => {
  it.each([
    ['AUTH_JWKS_REFETCH_INTERVAL_SECONDS', { AUTH_JWKS_REFETCH_INTERVAL_SECONDS: '0' }],
    ['AUTH_M2M_CLIENT_IDS', { AUTH_M2M_CLIENT_IDS: 'a b,c' }],
    ['AUTH_SESSION_MAX_TOKEN_LIFETIME_SECONDS', { AUTH_SESSION_MAX_TOKEN_LIFETIME_SECONDS: '59' }],
    ['AUTH_M2M_MAX_TOKEN_LIFETIME_SECONDS', { AUTH_M2M_MAX_TOKEN_LIFETIME_SECONDS: '1y' }],
    ['AUTH_JWKS_REFETCH_INTERVAL_SECONDS', { AUTH_JWKS_REFETCH_INTERVAL_SECONDS: '1.5' }],
    ['METRICS_TOKEN', { NODE_ENV: 'production', METRICS_TOKEN: 'too-short-for-production' }],
    ['ADMIN_BOOTSTRAP_ORIGINS', { ADMIN_BOOTSTRAP_ORIGINS: 'https://admin.example.com/ui' }],
    ['ADMIN_BOOTSTRAP_ORIGINS', { ADMIN_BOOTSTRAP_ORIGINS: 'admin.example.com' }],
    ['ADMIN_BOOTSTRAP_ORIGINS', { ADMIN_BOOTSTRAP_ORIGINS: 'ftp://admin.example.com' }],
  ])('refuses a bad %s and names it', (variable, env) => {
    const problems = problemsOf(env);
    expect(problems.some((p) => p.includes(variable))).toBe(true);
  });

  describe('who is an org admin among sessions (ORG_ID, ADMIN_SESSIONS_ANY_USER)', () => {
    const production = {
      NODE_ENV: 'production',
      OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
      SETTINGS_UI_ORIGIN: 'https://settings.example.com',
      TOKEN_SIGNING_KEY,
    };
    const sessionTier = {
      AUTH_SESSION_JWKS_URI: 'https://idp.example/.well-known/jwks.json',
      AUTH_SESSION_ISSUER: 'https://idp.example/',
      AUTH_SESSION_AUDIENCE: 'keysmith-ui',
    };

    it('in production with the session tier on, refuses ORG_ID unset, naming both variables', () => {
      const problems = problemsOf({ ...production, ...sessionTier });
      expect(problems).toEqual([expect.stringContaining('ORG_ID')]);
      expect(problems[0]).toContain('ADMIN_SESSIONS_ANY_USER');
      const hs = {
        AUTH_SESSION_SECRET: 's'.repeat(40),
        AUTH_SESSION_ISSUER: 'i',
        AUTH_SESSION_AUDIENCE: 'a',
      };
      expect(problemsOf({ ...production, ...hs })).toEqual([expect.stringContaining('ORG_ID')]);
    });

    it('in production, starts with ORG_ID, or with the explicit opt-in, or with the session tier off', () => {
      expect(problemsOf({ ...production, ...sessionTier, ORG_ID: 'org-1' })).toEqual([]);
      expect(problemsOf({ ...production, ...sessionTier, ADMIN_SESSIONS_ANY_USER: 'true' })).toEqual([]);
      expect(problemsOf({ ...production, ADMIN_SESSIONS_ANY_USER: 'false' })).toEqual([]);
      expect(problemsOf({ ...production, ...sessionTier, ADMIN_SESSIONS_ANY_USER: 'false' })).toEqual([
        expect.stringContaining('ORG_ID'),
      ]);
    });

    it('outside production, ORG_ID stays optional', () => {
      expect(problemsOf(sessionTier)).toEqual([]);
      expect(settingsOf(sessionTier)).toMatchObject({ orgId: undefined, adminSessionsAnyUser: false });
    });

    it('refuses ORG_ID together with ADMIN_SESSIONS_ANY_USER=true (which one is meant?) and a bad boolean', () => {
      expect(problemsOf({ ORG_ID: 'org-1', ADMIN_SESSIONS_ANY_USER: 'true' })).toEqual([
        expect.stringMatching(/ORG_ID.*ADMIN_SESSIONS_ANY_USER/),
      ]);
      expect(problemsOf({ ADMIN_SESSIONS_ANY_USER: 'everyone' })).toEqual([
        expect.stringContaining('ADMIN_SESSIONS_ANY_USER'),
      ]);
    });
  });

  describe('production refuses what only development should run with', () => {
    const production = {
      NODE_ENV: 'production',
      OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
      SETTINGS_UI_ORIGIN: 'https://settings.example.com',
      TOKEN_SIGNING_KEY,
    };
    const m2m = { AUTH_M2M_ISSUER: 'https://idp.example/', AUTH_M2M_AUDIENCE: 'keysmith-internal' };
    const session = {
      AUTH_SESSION_ISSUER: 'https://idp.example/',
      AUTH_SESSION_AUDIENCE: 'keysmith-ui',
      ORG_ID: 'org-1',
    };

    it.each([
      [
        'OAUTH_CALLBACK_ORIGIN',
        {
          OAUTH_CALLBACK_ORIGIN: 'http://keys.example.com',
          SETTINGS_UI_ORIGIN: 'https://settings.example.com',
        },
      ],
      ['AUTH_SESSION_JWKS_URI', { ...session, AUTH_SESSION_JWKS_URI: 'http://idp.example/jwks' }],
      ['AUTH_M2M_JWKS_URI', { ...m2m, AUTH_M2M_JWKS_URI: 'http://10.0.0.7:8080/jwks' }],
    ])(
      'refuses an http:// %s that is not loopback, naming it and ALLOW_INSECURE_HTTP, never the value',
      (variable, env) => {
        const problems = problemsOf({ ...production, ...env });
        expect(problems).toEqual([expect.stringContaining(variable)]);
        expect(problems[0]).toContain('ALLOW_INSECURE_HTTP');
        expect(problems[0]).not.toMatch(/example|10\.0\.0\.7/);
        expect(problemsOf({ ...production, ...env, ALLOW_INSECURE_HTTP: 'true' })).toEqual([]);
        // Development takes any scheme.
        expect(problemsOf({ ...env, ORG_ID: undefined })).toEqual([]);
      },
    );

    it.each([
      ['http://127.0.0.1:3000'],
      ['http://localhost:3000'],
      ['http://[::1]:3000'],
      ['http://127.8.9.10'],
    ])('accepts loopback over http (%s)', (origin) => {
      expect(
        problemsOf({
          ...production,
          ...m2m,
          ...session,
          OAUTH_CALLBACK_ORIGIN: origin,
          SETTINGS_UI_ORIGIN: 'https://settings.example.com',
          AUTH_M2M_JWKS_URI: `${origin}/jwks`,
          AUTH_SESSION_JWKS_URI: `${origin}/jwks`,
          AUTH_SESSION_AUDIENCE: 'keysmith-ui',
        }),
      ).toEqual([]);
    });

    it('does not take a name that merely starts like loopback for loopback', () => {
      for (const origin of ['http://localhost.example.com', 'http://127.0.0.1.nip.io']) {
        expect(
          problemsOf({
            ...production,
            OAUTH_CALLBACK_ORIGIN: origin,
            SETTINGS_UI_ORIGIN: 'https://settings.example.com',
          }),
        ).toEqual([expect.stringContaining('OAUTH_CALLBACK_ORIGIN')]);
      }
    });

    it('refuses ADMIN_BOOTSTRAP_OPEN=true unless ADMIN_BOOTSTRAP_OPEN_IN_PRODUCTION=true acknowledges it', () => {
      const problems = problemsOf({ ...production, ADMIN_BOOTSTRAP_OPEN: 'true' });
      expect(problems).toEqual([expect.stringContaining('ADMIN_BOOTSTRAP_OPEN_IN_PRODUCTION')]);
      expect(
        problemsOf({
          ...production,
          ADMIN_BOOTSTRAP_OPEN: 'true',
          ADMIN_BOOTSTRAP_OPEN_IN_PRODUCTION: 'true',
        }),
      ).toEqual([]);
      expect(
        settingsOf({
          ...production,
          ADMIN_BOOTSTRAP_OPEN: 'true',
          ADMIN_BOOTSTRAP_OPEN_IN_PRODUCTION: 'true',
        }).adminBootstrapOpen,
      ).toBe(true);
      expect(problemsOf({ ADMIN_BOOTSTRAP_OPEN: 'true' })).toEqual([]);
    });

    it('refuses TRUST_PROXY=true unless TRUST_PROXY_TRUE_IN_PRODUCTION=true acknowledges it', () => {
      const problems = problemsOf({ ...production, TRUST_PROXY: 'true' });
      expect(problems).toEqual([expect.stringContaining('TRUST_PROXY_TRUE_IN_PRODUCTION')]);
      expect(problems[0]).toMatch(/^TRUST_PROXY=true /);
      expect(
        problemsOf({ ...production, TRUST_PROXY: 'true', TRUST_PROXY_TRUE_IN_PRODUCTION: 'true' }),
      ).toEqual([]);
      expect(
        settingsOf({ ...production, TRUST_PROXY: 'true', TRUST_PROXY_TRUE_IN_PRODUCTION: 'true' }).trustProxy,
      ).toBe(true);
      expect(
        problemsOf({ ...production, TRUST_PROXY: 'true', TRUST_PROXY_TRUE_IN_PRODUCTION: 'maybe' }),
      ).toEqual([
        expect.stringContaining('TRUST_PROXY_TRUE_IN_PRODUCTION must be true or false'),
        expect.stringContaining('TRUST_PROXY=true'),
      ]);
      // Listed proxies, a hop count, or none: no acknowledgement needed; outside production, true is allowed.
      for (const value of ['10.0.0.0/8,loopback', '1', 'false']) {
        expect(problemsOf({ ...production, TRUST_PROXY: value })).toEqual([]);
      }
      expect(problemsOf({ TRUST_PROXY: 'true' })).toEqual([]);
    });

    it('reports a bad ALLOW_INSECURE_HTTP once, naming it', () => {
      expect(problemsOf({ ...production, ALLOW_INSECURE_HTTP: 'perhaps' })).toEqual([
        expect.stringContaining('ALLOW_INSECURE_HTTP'),
      ]);
    });
  });

  it('reads ADMIN_BOOTSTRAP_ORIGINS as origins, trailing slashes and case aside', () => {
    expect(
      settingsOf({ ADMIN_BOOTSTRAP_ORIGINS: 'https://Admin.Example.com/, http://localhost:5173' })
        .adminBootstrapOrigins,
    ).toEqual(['https://admin.example.com', 'http://localhost:5173']);
  });
});
