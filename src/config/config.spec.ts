import { provisioningConfig } from 'src/api-keys/provisioning.config';
import { ADMIN_RATE_LIMIT } from 'src/auth/admin/admin.rate-limits';
import { authConfig } from 'src/auth/auth.config';
import { billingProvidersConfig } from 'src/billing-providers/billing-providers.config';
import { appConfig } from 'src/config/app-config';
import { loadAppConfig } from 'src/app.registrations';
import type { Env } from 'src/config/env-reader';
import { encryptionConfig } from 'src/crypto/encryption/encryption.config';
import { signingConfig } from 'src/crypto/signing/signing.config';
import { rateLimitConfig, rateLimitVariable } from 'src/rate-limit/rate-limit.config';
import { configProblems, testSigningKey } from 'test/helpers/config';

// Each slice's rules are specified next to it (app-config.spec, auth.config.spec, ...). This is the whole
// configuration as the app loads it: every slice at once, one validation.

/** A real signing key: production refuses to start without one. */
const TOKEN_SIGNING_KEY = testSigningKey();

const problemsOf = (env: Env): string[] => configProblems(() => loadAppConfig(env));

describe('the configuration (every slice)', () => {
  it('runs with no configuration at all, on the documented defaults', () => {
    const config = loadAppConfig({});
    expect(config.get(appConfig)).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      logLevel: 'info',
      oauthCallbackOrigin: 'http://127.0.0.1:3000',
    });
    expect(config.get(appConfig).databaseUrl).toBeUndefined();
    expect(config.get(authConfig)).toMatchObject({ adminBootstrapOpen: true, adminAuthAllowApiKeys: false });
    expect(config.get(billingProvidersConfig).providers).toEqual([]);
    expect(config.get(provisioningConfig).allowedOrgIds).toBeUndefined();
    expect(config.get(signingConfig).tokenSigningKey).toBeUndefined();
    expect(config.get(encryptionConfig)).toEqual({ keys: [], minVersion: undefined });
    expect(config.get(rateLimitConfig).redisUrl).toBeUndefined();
  });

  it('starts in production with OAUTH_CALLBACK_ORIGIN and TOKEN_SIGNING_KEY, and closes bootstrap', () => {
    const production = {
      NODE_ENV: 'production',
      OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
      SETTINGS_UI_ORIGIN: 'https://settings.example.com',
      TOKEN_SIGNING_KEY,
    };
    expect(problemsOf(production)).toEqual([]);
    expect(loadAppConfig(production).get(authConfig).adminBootstrapOpen).toBe(false);
    expect(
      problemsOf({
        NODE_ENV: 'production',
        OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
        SETTINGS_UI_ORIGIN: 'https://settings.example.com',
      }),
    ).toEqual([expect.stringContaining('TOKEN_SIGNING_KEY')]);
  });

  it('reports a problem in every slice at once, each naming its variable and none echoing a secret', () => {
    const secrets = {
      ADMIN_TOKEN: 'short-admin-secret',
      AUTH_SESSION_SECRET: 'tiny-hs-secret',
      TOKEN_SIGNING_KEY: 'super-secret-not-a-key-material',
      ENCRYPTION_KEY: 'short-encryption-key',
      [rateLimitVariable(ADMIN_RATE_LIMIT)]: 'secret-rate-value',
    };
    const problems = problemsOf({
      NODE_ENV: 'production',
      PORT: 'eighty',
      ...secrets,
      REDIS_URL: 'http://x',
      BILLING_PROVIDERS: '{not json',
      OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
      SETTINGS_UI_ORIGIN: 'https://settings.example.com',
    });
    const named = {
      app: 'PORT',
      auth: 'ADMIN_TOKEN',
      session: 'AUTH_SESSION_SECRET',
      signing: 'TOKEN_SIGNING_KEY',
      encryption: 'ENCRYPTION_KEY',
      'rate-limit': 'REDIS_URL',
      'rate-limit override': rateLimitVariable(ADMIN_RATE_LIMIT),
      'billing-providers': 'BILLING_PROVIDERS',
    };
    for (const [slice, variable] of Object.entries(named)) {
      expect({ slice, named: problems.some((p) => p.startsWith(variable)) }).toEqual({ slice, named: true });
    }
    let message = '';
    try {
      loadAppConfig({
        NODE_ENV: 'production',
        ...secrets,
        OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
        SETTINGS_UI_ORIGIN: 'https://settings.example.com',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    for (const variable of Object.keys(secrets)) expect(message).toContain(variable);
    for (const value of Object.values(secrets)) expect(message).not.toContain(value);
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
        SETTINGS_UI_ORIGIN: 'https://settings.example.com',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('ADMIN_TOKEN');
    expect(message).toContain('AUTH_SESSION_SECRET');
    expect(message).toContain('TOKEN_SIGNING_KEY');
    for (const value of [secret, sessionSecret, signingKey]) expect(message).not.toContain(value);
  });
});
