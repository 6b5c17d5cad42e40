import request from 'supertest';
import { loadAppConfig } from 'src/app.registrations';
import { ConfigValidationError } from 'src/config/env-reader';
import { e2eSuite, type TestApp, testSigningKey } from 'test/helpers/app';
import { SESSION_AUDIENCE, sessionEnv, TestIssuer } from 'test/helpers/issuers';

const EVERY_SESSION_WARNING = /"level":40.*ORG_ID is unset: every valid session is an org admin/;
const OPT_IN_WARNING = /"level":40.*ADMIN_SESSIONS_ANY_USER=true and ORG_ID unset/;

/**
 * Item 2 of issue 12: with the session tier on and ORG_ID unset, every session user is an org admin. Production
 * refuses to start like that unless ADMIN_SESSIONS_ANY_USER=true says so; every other start warns.
 */
describe('org admins among sessions: ORG_ID and ADMIN_SESSIONS_ANY_USER', () => {
  const suite = e2eSuite({ issuers: false });
  let issuer: TestIssuer;
  const apps: TestApp[] = [];
  let logs: TestApp['logs'];

  const boot = async (env: Record<string, string>): Promise<TestApp> => {
    const app = await suite.start(env);
    apps.push(app);
    logs = app.logs;
    return app;
  };
  const linesDuring = async (start: () => Promise<unknown>): Promise<string> => {
    const mark = logs?.lines.length ?? 0;
    await start();
    return logs.lines.slice(mark).join('\n');
  };
  const production = (): Record<string, string> => ({
    NODE_ENV: 'production',
    OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
    SETTINGS_UI_ORIGIN: 'https://settings.example.com',
    TOKEN_SIGNING_KEY: testSigningKey(),
    ADMIN_TOKEN: 'a'.repeat(40),
    ...sessionEnv(issuer),
  });

  beforeAll(async () => {
    issuer = await TestIssuer.start(SESSION_AUDIENCE);
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await issuer?.stop();
  });

  it('development: warns at every start while ORG_ID is unset, and any session is an admin', async () => {
    let app: TestApp | undefined;
    const first = await linesDuring(
      async () => (app = await boot({ ...sessionEnv(issuer), ADMIN_TOKEN: 'a'.repeat(40) })),
    );
    expect(first).toMatch(EVERY_SESSION_WARNING);
    expect(await linesDuring(() => boot(sessionEnv(issuer)))).toMatch(EVERY_SESSION_WARNING);
    await request(app!.http)
      .get('/api/v1/admin/whoami')
      .set('authorization', `Bearer ${await issuer.token({ sub: 'anyone', org_id: 'whatever' })}`)
      .expect(200, { tier: 'session', actor: 'session:anyone', scopes: ['admin'] });
  });

  it('no warning with ORG_ID set, or with the session tier off', async () => {
    const text = await linesDuring(async () => {
      await boot({ ...sessionEnv(issuer), ORG_ID: 'org-1' });
      await boot({});
    });
    expect(text).not.toMatch(/ORG_ID is unset|ADMIN_SESSIONS_ANY_USER=true/);
  });

  it('production: refuses to start without ORG_ID, naming both variables', () => {
    let error: unknown;
    try {
      loadAppConfig(production());
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    const problems = (error as ConfigValidationError).problems;
    expect(problems).toEqual([expect.stringContaining('ORG_ID')]);
    expect(problems[0]).toContain('ADMIN_SESSIONS_ANY_USER');
  });

  it('production: starts with ADMIN_SESSIONS_ANY_USER=true, warning; and with ORG_ID, where only that org’s sessions are admins', async () => {
    let optIn: TestApp | undefined;
    expect(
      await linesDuring(
        async () => (optIn = await boot({ ...production(), ADMIN_SESSIONS_ANY_USER: 'true' })),
      ),
    ).toMatch(OPT_IN_WARNING);
    await request(optIn!.http)
      .get('/api/v1/admin/whoami')
      .set('authorization', `Bearer ${await issuer.token({ sub: 'anyone' })}`)
      .expect(200, { tier: 'session', actor: 'session:anyone', scopes: ['admin'] });

    const scoped = await boot({ ...production(), ORG_ID: 'org-1' });
    await request(scoped.http)
      .get('/api/v1/admin/whoami')
      .set('authorization', `Bearer ${await issuer.token({ sub: 'anyone', org_id: 'org-2' })}`)
      .expect(401);
    await request(scoped.http)
      .get('/api/v1/admin/whoami')
      .set('authorization', `Bearer ${await issuer.token({ sub: 'admin', org_id: 'org-1' })}`)
      .expect(200, { tier: 'session', actor: 'session:admin', scopes: ['admin'] });
  });
});
