import request from 'supertest';
import { e2eSuite, type TestApp, testSigningKey } from 'test/helpers/app';

const UNAUTHORIZED = { error: { type: 'unauthorized', status: 401, message: 'Authentication required.' } };
const METRICS_TOKEN = 'm'.repeat(20) + '-scrape-token-0123456789';
const ADMIN_TOKEN = 'a'.repeat(40);
const UNSET_WARNING = /"level":40.*METRICS_TOKEN is unset/;

/**
 * Issue 12, "Also": /metrics shows the runtime and per-route traffic. METRICS_TOKEN (a bearer token, compared
 * in constant time) guards it when set; production warns at start when it is not.
 */
describe('/metrics and METRICS_TOKEN', () => {
  const suite = e2eSuite({ issuers: false });
  let guarded: TestApp;
  let open: TestApp;

  beforeAll(async () => {
    guarded = await suite.start({ METRICS_TOKEN, ADMIN_TOKEN });
    open = await suite.start({});
  });

  const scrape = (app: TestApp, credential?: string): request.Test => {
    const req = request(app.http).get('/metrics');
    return credential === undefined ? req : req.set('authorization', `Bearer ${credential}`);
  };

  it('with METRICS_TOKEN set: the token scrapes, with Cache-Control: no-store', async () => {
    const res = await scrape(guarded, METRICS_TOKEN).expect(200);
    expect(res.text).toContain('http_requests_total');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it.each([
    ['no credential', undefined],
    ['a wrong token', `${METRICS_TOKEN}x`],
    ['a prefix of the token', METRICS_TOKEN.slice(0, 10)],
    ['ADMIN_TOKEN (another credential)', ADMIN_TOKEN],
    ['garbage', 'not-it'],
  ])('with METRICS_TOKEN set: %s is the one 401', async (_label, credential) => {
    const res = await scrape(guarded, credential).expect(401, UNAUTHORIZED);
    expect(res.text).not.toContain('http_requests_total');
  });

  it('with METRICS_TOKEN unset: public, as before', async () => {
    expect((await scrape(open).expect(200)).text).toContain('http_requests_total');
  });

  it('other routes are not affected by METRICS_TOKEN', async () => {
    await request(guarded.http).get('/health/live').expect(200);
    await request(guarded.http)
      .get('/api/v1/admin/whoami')
      .set('authorization', `Bearer ${METRICS_TOKEN}`)
      .expect(401, UNAUTHORIZED);
  });

  it('production warns at start without METRICS_TOKEN, and not with it', async () => {
    const production = {
      NODE_ENV: 'production',
      OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com',
      SETTINGS_UI_ORIGIN: 'https://settings.example.com',
      TOKEN_SIGNING_KEY: testSigningKey(),
    };
    let mark = guarded.logs.lines.length;
    const without = await suite.start(production);
    await without.close();
    expect(guarded.logs.lines.slice(mark).join('\n')).toMatch(UNSET_WARNING);
    mark = guarded.logs.lines.length;
    const withToken = await suite.start({ ...production, METRICS_TOKEN });
    await withToken.close();
    expect(guarded.logs.lines.slice(mark).join('\n')).not.toMatch(UNSET_WARNING);
  });
});
