import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { FakeProvider } from 'test/helpers/fake-provider';
import { oauthEnv, poll, startPath, type StartedLogin } from 'test/helpers/oauth';
import { sessionBearer, TestIssuer } from 'test/helpers/issuers';
import { errorShape } from 'test/helpers/http';

/**
 * The start limits: `oauth-start`, 5 authenticated starts per minute per client IP, and `oauth-start-user`,
 * 5 per minute per session user; configurable like every limit. Anonymous requests count against neither
 * (issue 16, item 5: they spent a person's budget).
 */
describe('provider OAuth handoff: the start limit', () => {
  const suite = e2eSuite({ issuers: false });
  let issuer: TestIssuer;
  let acme: FakeProvider;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    issuer = await TestIssuer.start('keysmith-ui');
    acme = await FakeProvider.start();
  });

  afterAll(async () => {
    for (const app of apps.reverse()) await app.close();
    await acme?.stop();
    await issuer?.stop();
  });

  async function boot(env: Record<string, string> = {}): Promise<TestApp> {
    const base = oauthEnv(issuer, [acme.entry('acme', 'Acme Billing')]);
    delete base.RATE_LIMIT_OAUTH_START;
    delete base.RATE_LIMIT_OAUTH_START_USER;
    const app = await suite.start({ ...base, TRUST_PROXY: 'loopback', ...env });
    apps.push(app);
    return app;
  }

  const startFrom = async (t: TestApp, ip: string, sub = 'gina') =>
    request(t.http)
      .post(startPath('acme'))
      .set('x-forwarded-for', ip)
      .set('authorization', await sessionBearer(issuer, sub));

  it('allows 5 starts a minute per IP, then answers 429 with Retry-After', async () => {
    const t = await boot();
    const ip = '203.0.113.10';
    const allowed = [];
    for (let i = 0; i < 5; i++) allowed.push(await startFrom(t, ip, `gina-${i}`));
    expect(allowed.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
    expect(allowed[4]!.headers['x-ratelimit-remaining']).toBe('0');

    const refused = await startFrom(t, ip);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual(errorShape('rate_limited', 429));
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Counted after authentication: without a session the answer is 401, as for anyone.
    const anonymous = await request(t.http).post(startPath('acme')).set('x-forwarded-for', ip);
    expect(anonymous.status).toBe(401);

    // Another IP has its own count; polling is not limited by it.
    expect((await startFrom(t, '203.0.113.11')).status).toBe(201);
    const login = allowed[0]!.body as StartedLogin;
    const res = await poll(t.http, await sessionBearer(issuer, 'gina-0'), 'acme', login.loginSessionId).set(
      'x-forwarded-for',
      ip,
    );
    expect(res.body).toEqual({ status: 'pending' });
  });

  it("anonymous and badly authenticated requests do not spend anyone's budget", async () => {
    const t = await boot();
    const ip = '203.0.113.30';
    for (let i = 0; i < 12; i++) {
      const res = await request(t.http)
        .post(startPath('acme'))
        .set('x-forwarded-for', ip)
        .set('authorization', i % 2 ? 'Bearer not-a-session' : '');
      expect(res.status).toBe(401);
    }
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await startFrom(t, ip, `hugo-${i}`)).status);
    expect(statuses).toEqual([201, 201, 201, 201, 201]);
  });

  it('limits one user across addresses (oauth-start-user)', async () => {
    const t = await boot();
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await startFrom(t, `203.0.113.${40 + i}`, 'ivan')).status);
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429]);
    // Another user is not held up by it.
    expect((await startFrom(t, '203.0.113.60', 'judy')).status).toBe(201);
  });

  it('takes its limit from RATE_LIMIT_OAUTH_START_USER', async () => {
    const t = await boot({ RATE_LIMIT_OAUTH_START_USER: '2/60s' });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await startFrom(t, `203.0.113.${70 + i}`, 'kim')).status);
    expect(statuses).toEqual([201, 201, 429]);
  });

  it('takes its limit from RATE_LIMIT_OAUTH_START', async () => {
    const t = await boot({ RATE_LIMIT_OAUTH_START: '2/60s' });
    const ip = '203.0.113.20';
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await startFrom(t, ip, `lena-${i}`)).status);
    expect(statuses).toEqual([201, 201, 429]);
  });
});
