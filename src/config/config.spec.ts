import { generateKeyPairSync } from 'node:crypto';
import { provisioningConfig } from 'src/api-keys/provisioning.config';
import { authConfig } from 'src/auth/auth.config';
import { billingProvidersConfig } from 'src/billing-providers/billing-providers.config';
import { appConfig } from 'src/config/app-config';
import { loadConfig } from 'src/config/config-slice';
import { ConfigValidationError, type Env } from 'src/config/env-reader';
import { encryptionConfig } from 'src/crypto/encryption/encryption.config';
import { signingConfig } from 'src/crypto/signing/signing.config';
import { rateLimitConfig } from 'src/rate-limit/rate-limit.config';

/** Every slice's settings side by side, as the app loads them (one validation, every problem at once). */
function loadAppConfig(env: Env) {
  const config = loadConfig(env);
  return {
    ...config.get(appConfig),
    ...config.get(authConfig),
    ...config.get(signingConfig),
    ...config.get(encryptionConfig),
    redisUrl: config.get(rateLimitConfig).redisUrl,
    provisionAllowedOrgIds: config.get(provisioningConfig).allowedOrgIds,
    billingProviders: config.get(billingProvidersConfig).providers,
  };
}

/** A real signing key: production refuses to start without one. */
const TOKEN_SIGNING_KEY = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();

function problemsOf(env: Env): string[] {
  try {
    loadAppConfig(env);
  } catch (err) {
    if (err instanceof ConfigValidationError) return err.problems;
    throw err;
  }
  return [];
}

describe('the configuration (every slice)', () => {
  it('runs with no configuration at all, on the documented defaults', () => {
    const config = loadAppConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      logLevel: 'info',
      adminBootstrapOpen: true,
      adminAuthAllowApiKeys: false,
      billingProviders: [],
      oauthCallbackOrigin: 'http://127.0.0.1:3000',
    });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.provisionAllowedOrgIds).toBeUndefined();
  });

  it('closes bootstrap by default in production', () => {
    const config = loadAppConfig({
      NODE_ENV: 'production',
      OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
      TOKEN_SIGNING_KEY,
    });
    expect(config.adminBootstrapOpen).toBe(false);
  });

  it('requires TOKEN_SIGNING_KEY in production, naming it; elsewhere the development key is used', () => {
    const production = { NODE_ENV: 'production', OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com' };
    expect(problemsOf(production)).toEqual([expect.stringContaining('TOKEN_SIGNING_KEY')]);
    expect(problemsOf({ ...production, TOKEN_SIGNING_KEY: '  ' })).toEqual([
      expect.stringContaining('TOKEN_SIGNING_KEY'),
    ]);
    expect(problemsOf({ ...production, TOKEN_SIGNING_KEY })).toEqual([]);
    expect(problemsOf({})).toEqual([]);
    expect(loadAppConfig({ NODE_ENV: 'test' }).tokenSigningKey).toBeUndefined();
  });

  it.each([
    ['PORT', { PORT: 'eighty' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['REDIS_URL', { REDIS_URL: 'http://x' }],
    ['ADMIN_BOOTSTRAP_OPEN', { ADMIN_BOOTSTRAP_OPEN: 'maybe' }],
    ['ADMIN_AUTH_ALLOW_API_KEYS', { ADMIN_AUTH_ALLOW_API_KEYS: 'sure' }],
    ['AUTH_SESSION_JWKS_URI', { AUTH_SESSION_JWKS_URI: 'not a url' }],
    ['AUTH_M2M_JWKS_URI', { AUTH_M2M_JWKS_URI: 'ftp://x' }],
    ['AUTH_JWKS_REFETCH_INTERVAL_SECONDS', { AUTH_JWKS_REFETCH_INTERVAL_SECONDS: '0' }],
    ['AUTH_M2M_CLIENT_IDS', { AUTH_M2M_CLIENT_IDS: 'a b,c' }],
    ['AUTH_SESSION_MAX_TOKEN_LIFETIME_SECONDS', { AUTH_SESSION_MAX_TOKEN_LIFETIME_SECONDS: '59' }],
    ['AUTH_M2M_MAX_TOKEN_LIFETIME_SECONDS', { AUTH_M2M_MAX_TOKEN_LIFETIME_SECONDS: '1y' }],
    ['AUTH_JWKS_REFETCH_INTERVAL_SECONDS', { AUTH_JWKS_REFETCH_INTERVAL_SECONDS: '1.5' }],
    ['ENCRYPTION_KEYS', { ENCRYPTION_KEYS: 'no-version-here' }],
    ['TOKEN_SIGNING_KEY', { TOKEN_SIGNING_KEY: 'definitely-not-a-pem' }],
    ['BILLING_PROVIDERS', { BILLING_PROVIDERS: '{not json' }],
    ['OAUTH_CALLBACK_ORIGIN', { NODE_ENV: 'production' }],
    ['METRICS_TOKEN', { NODE_ENV: 'production', METRICS_TOKEN: 'too-short-for-production' }],
    ['ADMIN_BOOTSTRAP_ORIGINS', { ADMIN_BOOTSTRAP_ORIGINS: 'https://admin.example.com/ui' }],
    ['ADMIN_BOOTSTRAP_ORIGINS', { ADMIN_BOOTSTRAP_ORIGINS: 'admin.example.com' }],
    ['ADMIN_BOOTSTRAP_ORIGINS', { ADMIN_BOOTSTRAP_ORIGINS: 'ftp://admin.example.com' }],
  ])('refuses a bad %s and names it', (variable, env) => {
    const problems = problemsOf(env);
    expect(problems.some((p) => p.includes(variable))).toBe(true);
  });

  it('never echoes a secret’s value in its message', () => {
    const secret = 'short-admin-secret';
    const sessionSecret = 'tiny-hs-secret';
    const signingKey = 'super-secret-not-a-key-material';
    let message = '';
    try {
      loadAppConfig({
        NODE_ENV: 'production',
        ADMIN_TOKEN: secret,
        AUTH_SESSION_SECRET: sessionSecret,
        TOKEN_SIGNING_KEY: signingKey,
        OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('ADMIN_TOKEN');
    expect(message).toContain('AUTH_SESSION_SECRET');
    expect(message).toContain('TOKEN_SIGNING_KEY');
    for (const value of [secret, sessionSecret, signingKey]) expect(message).not.toContain(value);
  });

  it('refuses a session JWKS and secret together (no RS/HS confusion by configuration)', () => {
    expect(
      problemsOf({ AUTH_SESSION_JWKS_URI: 'https://idp.example/jwks', AUTH_SESSION_SECRET: 'x'.repeat(40) }),
    ).toEqual([expect.stringContaining('exclusive')]);
  });

  describe('session tokens kept apart from M2M tokens', () => {
    const production = {
      NODE_ENV: 'production',
      OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
      TOKEN_SIGNING_KEY,
      ORG_ID: 'org-1',
    };
    const jwks = { AUTH_SESSION_JWKS_URI: 'https://idp.example/.well-known/jwks.json' };
    const secret = { AUTH_SESSION_SECRET: 's'.repeat(40) };
    const issuer = { AUTH_SESSION_ISSUER: 'https://idp.example/' };
    const audience = { AUTH_SESSION_AUDIENCE: 'keysmith-ui' };

    it.each([
      ['a JWKS, neither', jwks, ['AUTH_SESSION_ISSUER', 'AUTH_SESSION_AUDIENCE']],
      ['a JWKS, no audience', { ...jwks, ...issuer }, ['AUTH_SESSION_AUDIENCE']],
      ['a JWKS, no issuer', { ...jwks, ...audience }, ['AUTH_SESSION_ISSUER']],
      ['a secret, neither', secret, ['AUTH_SESSION_ISSUER', 'AUTH_SESSION_AUDIENCE']],
    ])('in production, the session tier with %s set refuses to start', (_label, env, named) => {
      const problems = problemsOf({ ...production, ...env });
      expect(problems).toHaveLength(1);
      for (const variable of named) expect(problems[0]).toContain(variable);
    });

    it('in production, the session tier starts with issuer and audience; off, it needs neither', () => {
      expect(problemsOf({ ...production, ...jwks, ...issuer, ...audience })).toEqual([]);
      expect(problemsOf({ ...production, ...secret, ...issuer, ...audience })).toEqual([]);
      expect(problemsOf(production)).toEqual([]);
    });

    it('outside production, issuer and audience stay optional', () => {
      expect(problemsOf(jwks)).toEqual([]);
    });

    it.each([
      ['development', {}],
      ['production', { ...production, ...issuer }],
    ])('refuses one audience for sessions and M2M (%s)', (_label, env) => {
      const problems = problemsOf({
        ...env,
        ...jwks,
        AUTH_SESSION_AUDIENCE: 'keysmith',
        AUTH_M2M_AUDIENCE: 'keysmith',
      });
      expect(problems).toEqual([
        expect.stringMatching(/AUTH_SESSION_AUDIENCE and AUTH_M2M_AUDIENCE must differ/),
      ]);
      expect(problemsOf({ ...env, ...jwks, ...audience, AUTH_M2M_AUDIENCE: 'keysmith-internal' })).toEqual(
        [],
      );
    });
  });

  describe('who is an org admin among sessions (ORG_ID, ADMIN_SESSIONS_ANY_USER)', () => {
    const production = {
      NODE_ENV: 'production',
      OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
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
      expect(loadAppConfig(sessionTier)).toMatchObject({ orgId: undefined, adminSessionsAnyUser: false });
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
      TOKEN_SIGNING_KEY,
    };
    const m2m = { AUTH_M2M_ISSUER: 'https://idp.example/', AUTH_M2M_AUDIENCE: 'keysmith-internal' };
    const session = {
      AUTH_SESSION_ISSUER: 'https://idp.example/',
      AUTH_SESSION_AUDIENCE: 'keysmith-ui',
      ORG_ID: 'org-1',
    };

    it.each([
      ['OAUTH_CALLBACK_ORIGIN', { OAUTH_CALLBACK_ORIGIN: 'http://keys.example.com' }],
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
          AUTH_M2M_JWKS_URI: `${origin}/jwks`,
          AUTH_SESSION_JWKS_URI: `${origin}/jwks`,
          AUTH_SESSION_AUDIENCE: 'keysmith-ui',
        }),
      ).toEqual([]);
    });

    it('does not take a name that merely starts like loopback for loopback', () => {
      for (const origin of ['http://localhost.example.com', 'http://127.0.0.1.nip.io']) {
        expect(problemsOf({ ...production, OAUTH_CALLBACK_ORIGIN: origin })).toEqual([
          expect.stringContaining('OAUTH_CALLBACK_ORIGIN'),
        ]);
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
        loadAppConfig({
          ...production,
          ADMIN_BOOTSTRAP_OPEN: 'true',
          ADMIN_BOOTSTRAP_OPEN_IN_PRODUCTION: 'true',
        }).adminBootstrapOpen,
      ).toBe(true);
      expect(problemsOf({ ADMIN_BOOTSTRAP_OPEN: 'true' })).toEqual([]);
    });

    it('reports a bad ALLOW_INSECURE_HTTP once, naming it', () => {
      expect(problemsOf({ ...production, ALLOW_INSECURE_HTTP: 'perhaps' })).toEqual([
        expect.stringContaining('ALLOW_INSECURE_HTTP'),
      ]);
    });
  });

  it('reads ADMIN_BOOTSTRAP_ORIGINS as origins, trailing slashes and case aside', () => {
    expect(
      loadAppConfig({ ADMIN_BOOTSTRAP_ORIGINS: 'https://Admin.Example.com/, http://localhost:5173' })
        .adminBootstrapOrigins,
    ).toEqual(['https://admin.example.com', 'http://localhost:5173']);
  });

  it('parses TRUST_PROXY as hops, booleans or an Express trust value', () => {
    expect(loadAppConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadAppConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadAppConfig({ TRUST_PROXY: 'loopback' }).trustProxy).toBe('loopback');
    expect(loadAppConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8, fd00::/8, 192.168.1.1' }).trustProxy).toBe(
      'loopback, 10.0.0.0/8, fd00::/8, 192.168.1.1',
    );
    expect(loadAppConfig({ TRUST_PROXY: '10.0.0.0/255.0.0.0,linklocal,uniquelocal' }).trustProxy).toBe(
      '10.0.0.0/255.0.0.0,linklocal,uniquelocal',
    );
    expect(loadAppConfig({}).trustProxy).toBeUndefined();
  });

  it.each([['foo'], ['10.0.0.0/33'], ['loopback,,'], ['300.1.1.1'], ['fd00::/129'], ['-1'], ['1.5']])(
    'refuses TRUST_PROXY=%s, naming the variable and not the value',
    (value) => {
      const problems = problemsOf({ TRUST_PROXY: value });
      expect(problems).toEqual([expect.stringContaining('TRUST_PROXY')]);
      expect(problems[0]).not.toContain(value);
    },
  );

  describe('encryption keys', () => {
    const production = {
      NODE_ENV: 'production',
      OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
      TOKEN_SIGNING_KEY,
    };

    it('requires ENCRYPTION_KEY to be at least 32 characters in production only', () => {
      const short = 'short-encryption-key';
      const problems = problemsOf({ ...production, ENCRYPTION_KEY: short });
      expect(problems).toEqual([expect.stringContaining('ENCRYPTION_KEY')]);
      expect(problems[0]).not.toContain(short);
      expect(problemsOf({ ...production, ENCRYPTION_KEY: 'k'.repeat(32) })).toEqual([]);
      expect(problemsOf({ ENCRYPTION_KEY: short })).toEqual([]);
    });

    it('refuses ENCRYPTION_KEY and ENCRYPTION_KEYS together', () => {
      expect(problemsOf({ ENCRYPTION_KEY: 'k'.repeat(32), ENCRYPTION_KEYS: `1:${'k'.repeat(32)}` })).toEqual([
        expect.stringMatching(/ENCRYPTION_KEY and ENCRYPTION_KEYS are exclusive/),
      ]);
    });

    it.each([
      ['a duplicate version', '1:aaaa,1:bbbb'],
      ['version 0', '0:aaaa,1:bbbb'],
      ['a leading-zero duplicate', '1:aaaa,01:bbbb'],
    ])('refuses ENCRYPTION_KEYS with %s, naming it and not the secrets', (_label, value) => {
      const problems = problemsOf({ ENCRYPTION_KEYS: value });
      expect(problems).toEqual([expect.stringContaining('ENCRYPTION_KEYS')]);
      expect(problems[0]).not.toMatch(/aaaa|bbbb/);
    });

    it('accepts distinct positive versions', () => {
      expect(problemsOf({ ENCRYPTION_KEYS: '1:aaaa, 2:bbbb' })).toEqual([]);
    });
  });

  describe('OAUTH_CALLBACK_ORIGIN', () => {
    it('accepts an origin, trailing slashes stripped', () => {
      expect(
        loadAppConfig({ OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com:8443//' }).oauthCallbackOrigin,
      ).toBe('https://keys.example.com:8443');
    });

    it.each([
      ['a path', 'https://keys.example.com/callback'],
      ['a query', 'https://keys.example.com/?x=1'],
      ['a fragment', 'https://keys.example.com#frag'],
      ['credentials', 'https://user:pw@keys.example.com'],
    ])('refuses one with %s', (_label, value) => {
      expect(problemsOf({ OAUTH_CALLBACK_ORIGIN: value })).toEqual([
        expect.stringContaining('OAUTH_CALLBACK_ORIGIN must be an origin'),
      ]);
    });
  });

  describe('M2M issuer pinning', () => {
    const production = {
      NODE_ENV: 'production',
      OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
      TOKEN_SIGNING_KEY,
    };
    const jwks = { AUTH_M2M_JWKS_URI: 'https://idp.example/.well-known/jwks.json' };

    it.each([
      ['neither', {}, ['AUTH_M2M_ISSUER', 'AUTH_M2M_AUDIENCE']],
      ['no audience', { AUTH_M2M_ISSUER: 'https://idp.example/' }, ['AUTH_M2M_AUDIENCE']],
      ['no issuer', { AUTH_M2M_AUDIENCE: 'keysmith-internal' }, ['AUTH_M2M_ISSUER']],
    ])('in production, a M2M JWKS with %s set refuses to start', (_label, env, named) => {
      const problems = problemsOf({ ...production, ...jwks, ...env });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain('M2M tier');
      for (const variable of named) expect(problems[0]).toContain(variable);
    });

    it('starts with both in production, and needs neither outside production', () => {
      expect(
        problemsOf({
          ...production,
          ...jwks,
          AUTH_M2M_ISSUER: 'https://idp.example/',
          AUTH_M2M_AUDIENCE: 'keysmith-internal',
        }),
      ).toEqual([]);
      expect(problemsOf(jwks)).toEqual([]);
    });
  });

  it('says AUTH_SESSION_SECRET needs 32 characters everywhere, not only in production', () => {
    const problems = problemsOf({ AUTH_SESSION_SECRET: 'short' });
    expect(problems).toEqual(['AUTH_SESSION_SECRET must be at least 32 characters']);
    expect(problemsOf({ NODE_ENV: 'production', AUTH_SESSION_SECRET: 'short' }).join('\n')).toContain(
      'AUTH_SESSION_SECRET must be at least 32 characters\n',
    );
  });

  it('parses the provisioning allowlist', () => {
    expect(loadAppConfig({ PROVISION_ALLOWED_ORG_IDS: ' org-a, org-b ,,' }).provisionAllowedOrgIds).toEqual([
      'org-a',
      'org-b',
    ]);
  });

  describe('BILLING_PROVIDERS', () => {
    const good = {
      slug: 'acme',
      name: 'Acme Billing',
      authUrl: 'https://acme.test/auth',
      apiBase: 'https://api.acme.test/',
    };

    it('parses entries, trims apiBase and defaults enabled to true', () => {
      expect(loadAppConfig({ BILLING_PROVIDERS: JSON.stringify([good]) }).billingProviders).toEqual([
        { ...good, apiBase: 'https://api.acme.test', enabled: true },
      ]);
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
});
