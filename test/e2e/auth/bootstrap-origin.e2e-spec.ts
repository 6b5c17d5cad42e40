import request from 'supertest';
import { OrgTokensService } from 'src/org-tokens/org-tokens.service';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import type { TestDatabase } from 'test/helpers/database';
import { baseUrlOver, nonLoopbackAddress } from 'test/helpers/remote-peer';

const UNAUTHORIZED = { error: { type: 'unauthorized', status: 401, message: 'Authentication required.' } };
const MINT = '/api/v1/org/tokens';
const WHOAMI = '/api/v1/admin/whoami';
const BOOTSTRAP = { tier: 'bootstrap', actor: 'bootstrap', scopes: ['admin'] };

/**
 * Item 9 of issue 12: while bootstrap is open, a web page must not be able to mint the first org token (or
 * read the admin routes): not by a cross-site form or fetch, not through DNS rebinding, not from another
 * machine. Each app gets a fresh database, so bootstrap is open until a test mints.
 */
describe('bootstrap: only this machine or a configured origin, only under our own Host', () => {
  const suite = e2eSuite({ issuers: false });
  const apps: TestApp[] = [];
  const secrets: string[] = [];

  /** An app with bootstrap open on a fresh database; `env` adds to the defaults. */
  const openApp = async (env: Record<string, string> = {}): Promise<{ app: TestApp; db: TestDatabase }> => {
    const db = await suite.database();
    const app = await suite.start({ OAUTH_CALLBACK_ORIGIN: 'https://keys.example.com', ...env }, { db });
    apps.push(app);
    return { app, db };
  };
  const minted = async (db: TestDatabase): Promise<number> =>
    (await db.query(`SELECT 1 FROM org_tokens`)).length;

  suite.beforeTeardown(async () => {
    for (const app of apps) {
      expect(app.logs.leaked(secrets)).toEqual([]);
      await app.app.get(OrgTokensService).settle();
    }
  });

  describe('from loopback, with the service’s own Host', () => {
    let app: TestApp;
    let db: TestDatabase;

    beforeAll(async () => {
      ({ app, db } = await openApp());
    });

    it('a request without Origin (curl, a script) passes, under each of our Hosts', async () => {
      const port = (app.http.address() as { port: number } | null)?.port ?? 0;
      for (const host of [
        undefined,
        'localhost:3000',
        `127.0.0.1:${port}`,
        '[::1]:8080',
        'keys.example.com',
        'keys.example.com:443',
      ]) {
        const req = request(app.http).get(WHOAMI);
        await (host ? req.set('host', host) : req).expect(200, BOOTSTRAP);
      }
    });

    it('a page this service serves itself (same origin) passes', async () => {
      await request(app.http)
        .get(WHOAMI)
        .set('host', 'localhost:3000')
        .set('origin', 'http://localhost:3000')
        .set('sec-fetch-site', 'same-origin')
        .expect(200, BOOTSTRAP);
    });

    it.each([
      ['application/x-www-form-urlencoded', 'name=from-a-form'],
      ['text/plain', '{"name":"from-a-form"}'],
      [
        'multipart/form-data; boundary=x',
        '--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nfrom-a-form\r\n--x--\r\n',
      ],
    ])('a %s body is never read as fields: 400, nothing minted', async (type, body) => {
      const res = await request(app.http).post(MINT).set('content-type', type).send(body);
      expect(res.status).toBe(400);
      expect((res.body as { error: { type: string } }).error.type).toBe('validation_failed');
      expect(await minted(db)).toBe(0);
    });

    it.each([
      [
        'a cross-site form (Origin of another site, urlencoded)',
        { origin: 'https://evil.example' },
        'application/x-www-form-urlencoded',
        'name=x',
      ],
      [
        'a cross-site form with an empty text/plain body',
        { origin: 'https://evil.example' },
        'text/plain',
        '',
      ],
      [
        'a no-cors fetch without a body',
        { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
        undefined,
        undefined,
      ],
      [
        'a page on another port of localhost',
        { origin: 'http://localhost:8081', 'sec-fetch-site': 'same-site' },
        undefined,
        undefined,
      ],
      ['a sandboxed page (Origin: null)', { origin: 'null' }, 'text/plain', ''],
      [
        'a cross-site request that hides its Origin',
        { 'sec-fetch-site': 'cross-site' },
        undefined,
        undefined,
      ],
    ])('%s: the one 401, nothing minted', async (_label, headers, type, body) => {
      const req = request(app.http).post(MINT).set(headers);
      if (type) req.set('content-type', type);
      await (body === undefined ? req : req.send(body)).expect(401, UNAUTHORIZED);
      await request(app.http).get(WHOAMI).set(headers).expect(401, UNAUTHORIZED);
      expect(await minted(db)).toBe(0);
    });

    it('DNS rebinding (our address under a foreign name): the one 401, nothing minted', async () => {
      for (const host of [
        'evil.example:3000',
        'evil.example',
        'keys.example.com.evil.example',
        'localhost.evil.example',
      ]) {
        await request(app.http).post(MINT).set('host', host).send({}).expect(401, UNAUTHORIZED);
        await request(app.http)
          .get(WHOAMI)
          .set('host', host)
          .set('origin', `http://${host}`)
          .set('sec-fetch-site', 'same-origin')
          .expect(401, UNAUTHORIZED);
      }
      expect(await minted(db)).toBe(0);
      expect(app.logs.text()).toMatch(/"level":40.*bootstrap refused/);
    });

    it('and the first proper mint still works', async () => {
      const res = await request(app.http)
        .post(MINT)
        .set('content-type', 'application/json')
        .send({ name: 'first' })
        .expect(201);
      secrets.push((res.body as { token: string }).token);
      expect(await minted(db)).toBe(1);
    });
  });

  describe('from another machine', () => {
    const remote = nonLoopbackAddress();
    (remote === undefined ? it.skip : it)(
      'is refused, unless it comes from a configured origin',
      async () => {
        const { app, db } = await openApp({ ADMIN_BOOTSTRAP_ORIGINS: 'https://admin.example.com' });
        // A connection to this machine's own non-loopback address: a socket peer that is not loopback.
        const base = await baseUrlOver(app.http, remote!);
        await request(base).get(WHOAMI).set('host', 'localhost:3000').expect(401, UNAUTHORIZED);
        await request(base).post(MINT).set('host', 'localhost:3000').send({}).expect(401, UNAUTHORIZED);
        await request(base)
          .get(WHOAMI)
          .set('origin', 'https://elsewhere.example.com')
          .expect(401, UNAUTHORIZED);
        expect(await minted(db)).toBe(0);
        // The configured origin's page (a browser on an admin's machine), through our own Host.
        await request(base)
          .get(WHOAMI)
          .set('host', 'keys.example.com')
          .set('origin', 'https://admin.example.com')
          .set('sec-fetch-site', 'cross-site')
          .expect(200, BOOTSTRAP);
        // Its own host is ours too.
        await request(base)
          .get(WHOAMI)
          .set('host', 'admin.example.com')
          .set('origin', 'https://admin.example.com')
          .expect(200, BOOTSTRAP);
      },
    );
  });

  it('once bootstrap is closed, none of this matters: credentials work from anywhere, under any Host', async () => {
    const adminToken = 'b'.repeat(40);
    const { app } = await openApp({ ADMIN_TOKEN: adminToken });
    await request(app.http)
      .get(WHOAMI)
      .set('host', 'evil.example')
      .set('origin', 'https://evil.example')
      .set('authorization', `Bearer ${adminToken}`)
      .expect(200, { tier: 'admin_token', actor: 'admin-token', scopes: ['admin'] });
  });
});
