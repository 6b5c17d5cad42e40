import request from 'supertest';
import { ConfigValidationError } from 'src/config/env-reader';
import { e2eSuite, testSigningKey } from 'test/helpers/app';

/**
 * Issue 12, "Also": production refuses clear-text URLs that leave the machine and an open bootstrap unless
 * each is acknowledged; the refusal names the variables and never their values.
 */
describe('production start checks', () => {
  const suite = e2eSuite({ issuers: false });
  const production = (): Record<string, string> => ({
    NODE_ENV: 'production',
    OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
    SETTINGS_UI_ORIGIN: 'https://settings.example.com',
    TOKEN_SIGNING_KEY: testSigningKey(),
  });

  const startFails = async (env: Record<string, string>): Promise<string[]> => {
    try {
      const app = await suite.start(env);
      await app.close();
    } catch (err) {
      if (err instanceof ConfigValidationError) return err.problems;
      throw err;
    }
    throw new Error('the app started');
  };

  it('refuses an http:// callback origin and JWKS URI off loopback, an open bootstrap, naming each', async () => {
    const problems = await startFails({
      ...production(),
      OAUTH_CALLBACK_ORIGIN: 'http://keys.internal.example',
      SETTINGS_UI_ORIGIN: 'https://settings.example.com',
      AUTH_M2M_JWKS_URI: 'http://idp.internal.example/jwks',
      AUTH_M2M_ISSUER: 'https://idp.internal.example/',
      AUTH_M2M_AUDIENCE: 'keysmith-internal',
      ADMIN_BOOTSTRAP_OPEN: 'true',
    });
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/OAUTH_CALLBACK_ORIGIN.*ALLOW_INSECURE_HTTP/);
    expect(problems.join('\n')).toMatch(/AUTH_M2M_JWKS_URI.*ALLOW_INSECURE_HTTP/);
    expect(problems.join('\n')).toMatch(/ADMIN_BOOTSTRAP_OPEN_IN_PRODUCTION/);
    expect(problems.join('\n')).not.toContain('internal.example');
  });

  it('starts when each is acknowledged, warning at start; the bootstrap is then open', async () => {
    const app = await suite.start({
      ...production(),
      OAUTH_CALLBACK_ORIGIN: 'http://keys.internal.example',
      SETTINGS_UI_ORIGIN: 'https://settings.example.com',
      ALLOW_INSECURE_HTTP: 'true',
      ADMIN_BOOTSTRAP_OPEN: 'true',
      ADMIN_BOOTSTRAP_OPEN_IN_PRODUCTION: 'true',
    });
    try {
      expect(app.logs.text()).toMatch(/"level":40.*ALLOW_INSECURE_HTTP=true/);
      expect(app.logs.text()).toMatch(/"level":40.*bootstrap is open/);
      await request(app.http)
        .get('/api/v1/admin/whoami')
        .expect(200, { tier: 'bootstrap', actor: 'bootstrap', scopes: ['admin'] });
    } finally {
      await app.close();
    }
  });
});
