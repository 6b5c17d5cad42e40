import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { errorShape, UNAUTHORIZED } from 'test/helpers/http';
import { internalEnv, M2M_AUDIENCE, SESSION_AUDIENCE, sessionBearer, TestIssuer } from 'test/helpers/issuers';
import { controllerRoutes, type ControllerRoute } from 'test/helpers/routes';

/**
 * CORS for the settings UI (API.md, "Everywhere"): a page on SETTINGS_UI_ORIGIN may call the developer
 * surface, the provider OAuth start and result and the credentials routes with a bearer token; no other
 * origin, and no other route, ever gets a CORS header. Checked over the route table of the running app, so a
 * new route is covered without anyone remembering to.
 */

const UI = 'https://settings.example.com';
const LOCAL_UI = 'http://127.0.0.1:5173';

/** What the contract makes browser-callable; the route table must say exactly this. */
const BROWSER_CALLABLE = [
  'DELETE /api/v1/developer/keys/:id',
  'DELETE /api/v1/mcp-oauth-credentials/:mcpServerId',
  'GET /api/v1/auth/providers/:slug/result',
  'GET /api/v1/billing-providers',
  'GET /api/v1/developer/keys',
  'GET /api/v1/developer/keys/:id',
  'GET /api/v1/developer/keys/usage',
  'GET /api/v1/developer/projects',
  'GET /api/v1/mcp-oauth-credentials',
  'PATCH /api/v1/developer/keys/:id',
  'POST /api/v1/auth/providers/:slug/start',
  'POST /api/v1/developer/keys',
  'POST /api/v1/developer/keys/:id/roll',
  'POST /api/v1/developer/projects',
  'POST /api/v1/mcp-oauth-credentials',
];

/** Origins a browser could send that are not listed: another site, a look-alike, another scheme or port. */
const UNLISTED = [
  'https://evil.example',
  'null',
  'https://settings.example.com.evil.example',
  'http://settings.example.com',
  'https://settings.example.com:8443',
  'http://127.0.0.1:5174',
  `${UI}, ${LOCAL_UI}`,
];

const concrete = (path: string): string =>
  path.replace(/:id\b/g, '00000000-0000-4000-8000-000000000000').replace(/:(\w+)/g, 'sample');

/** The CORS headers of an answer (`Access-Control-*`), by name. */
const corsHeaders = (res: request.Response): Record<string, string> =>
  Object.fromEntries(
    Object.entries(res.headers as Record<string, string>).filter(([name]) =>
      name.startsWith('access-control-'),
    ),
  );

/**
 * `METHOD /path` of every route whose own `onRequest` hooks include the CORS hook (`allowOrigin`), read from
 * Fastify's `printRoutes` tree with its hooks (one route per line, children indented by four characters
 * under their parent's path, each route's hooks on the lines after it).
 */
function routesWithCorsHook(t: TestApp): string[] {
  const instance = t.app.getHttpAdapter().getInstance() as { printRoutes(o: object): string };
  const found: string[] = [];
  for (const method of ['GET', 'POST', 'PATCH', 'DELETE']) {
    const tree = instance.printRoutes({ commonPrefix: false, includeHooks: true, method });
    const parents: string[] = [];
    let current: string | undefined;
    for (const line of tree.split('\n')) {
      const route = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
      if (route) {
        const depth = route[1]!.length / 4;
        const path = (parents[depth - 1] ?? '') + route[2]!;
        parents[depth] = path;
        current = route[3] ? `${method} ${path}` : undefined;
        continue;
      }
      if (current && /• \(onRequest\) .*"allowOrigin\(\)"/.test(line)) found.push(current);
    }
  }
  return found.sort();
}

describe('CORS for the settings UI', () => {
  const suite = e2eSuite({ issuers: false });
  let session: TestIssuer;
  let m2m: TestIssuer;
  let t: TestApp;
  let routes: ControllerRoute[];

  const preflight = (path: string, origin: string, method = 'GET') =>
    request(t.http)
      .options(path)
      .set('origin', origin)
      .set('access-control-request-method', method)
      .set('access-control-request-headers', 'authorization,content-type');

  /** The methods a browser-callable path is served with, as the preflight lists them. */
  const methodsOf = (path: string): string =>
    routes
      .filter((r) => r.browserCallable && r.path === path)
      .map((r) => r.method)
      .sort()
      .join(', ');

  beforeAll(async () => {
    session = await TestIssuer.start(SESSION_AUDIENCE);
    m2m = await TestIssuer.start(M2M_AUDIENCE);
    t = await suite.start({
      ...internalEnv(m2m, session),
      SETTINGS_UI_ORIGIN: `${UI}, ${LOCAL_UI}/`,
      ADMIN_TOKEN: 'a'.repeat(40),
      RATE_LIMIT_DEVELOPER_WRITE: '2/60s',
    });
    routes = controllerRoutes(t);
  });

  afterAll(async () => {
    await session?.stop();
    await m2m?.stop();
  });

  it('makes exactly the developer, provider OAuth (start, result) and credentials routes browser-callable', () => {
    expect(routes.filter((r) => r.browserCallable).map((r) => `${r.method} ${r.path}`)).toEqual(
      BROWSER_CALLABLE,
    );
  });

  it('gives the CORS hook to the browser-callable routes only: resolve, whoami and the rest run none of it', () => {
    expect(routesWithCorsHook(t)).toEqual(BROWSER_CALLABLE);
  });

  describe('preflight', () => {
    it('answers 204 with the origin echoed, the methods, the headers and Vary: Origin, on every browser-callable route, for each listed origin', async () => {
      for (const r of routes.filter((x) => x.browserCallable)) {
        for (const origin of [UI, LOCAL_UI]) {
          const res = await preflight(concrete(r.path), origin, r.method);
          expect({ route: `${r.method} ${r.path}`, status: res.status, cors: corsHeaders(res) }).toEqual({
            route: `${r.method} ${r.path}`,
            status: 204,
            cors: {
              'access-control-allow-origin': origin,
              'access-control-allow-methods': methodsOf(r.path),
              'access-control-allow-headers': 'Authorization, Content-Type',
              'access-control-max-age': '600',
            },
          });
          expect(res.headers.vary).toBe('Origin');
          expect(res.text).toBe('');
        }
      }
    });

    it('lists the methods of the path: GET and POST on the keys, GET, PATCH and DELETE on one key', async () => {
      expect((await preflight('/api/v1/developer/keys', UI, 'POST')).headers).toMatchObject({
        'access-control-allow-methods': 'GET, POST',
      });
      const one = await preflight(concrete('/api/v1/developer/keys/:id'), UI, 'DELETE');
      expect(one.headers['access-control-allow-methods']).toBe('DELETE, GET, PATCH');
      // The router's own rules: case-insensitive, a trailing slash ignored, the query aside.
      const odd = await preflight('/API/v1/Developer/Keys/?limit=1', UI, 'POST');
      expect(odd.status).toBe(204);
      expect(odd.headers['access-control-allow-origin']).toBe(UI);
    });

    it('gives an unlisted origin no CORS header at all, on every browser-callable route', async () => {
      for (const r of routes.filter((x) => x.browserCallable)) {
        for (const origin of UNLISTED) {
          const res = await preflight(concrete(r.path), origin, r.method);
          expect({
            route: `${r.method} ${r.path}`,
            origin,
            status: res.status,
            cors: corsHeaders(res),
          }).toEqual({ route: `${r.method} ${r.path}`, origin, status: 204, cors: {} });
          expect(res.headers.vary).toBe('Origin');
        }
      }
      const noOrigin = await request(t.http)
        .options('/api/v1/developer/keys')
        .set('access-control-request-method', 'POST');
      expect(noOrigin.status).toBe(204);
      expect(corsHeaders(noOrigin)).toEqual({});
    });

    it('never gives an admin, internal or public route a CORS header, even for a listed origin', async () => {
      const others = routes.filter((r) => !r.browserCallable);
      expect(others.map((r) => r.auth?.kind)).toEqual(
        expect.arrayContaining(['admin', 'm2m', 'public', 'metrics']),
      );
      for (const r of others) {
        const res = await preflight(concrete(r.path), UI, r.method);
        expect({ route: `${r.method} ${r.path}`, status: res.status, cors: corsHeaders(res) }).toEqual({
          route: `${r.method} ${r.path}`,
          status: 204,
          cors: {},
        });
        expect(res.headers.vary).toBeUndefined();
      }
    });

    it('answers a preflight to a path nothing serves like any unknown path: 404, no CORS header', async () => {
      const res = await preflight('/api/v1/developer/nope', UI);
      expect(res.status).toBe(404);
      expect(res.body).toEqual(errorShape('not_found', 404));
      expect(corsHeaders(res)).toEqual({});
    });

    it('needs no credential and counts against no rate limit', async () => {
      // developer-write is 2 a minute here: preflights before each write take none of it.
      const token = await sessionBearer(session, 'preflight-user');
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 5; j++)
          expect((await preflight('/api/v1/developer/keys', UI, 'POST')).status).toBe(204);
        const res = await request(t.http)
          .post('/api/v1/developer/keys')
          .set('origin', UI)
          .set('authorization', token)
          .send({ label: `k${i}` });
        expect(res.status).toBe(201);
      }
    });

    it('keeps OPTIONS without Access-Control-Request-Method a 405 on a served path', async () => {
      const res = await request(t.http).options('/api/v1/developer/keys').set('origin', UI);
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD, POST');
      expect(corsHeaders(res)).toEqual({});
    });
  });

  describe('actual requests', () => {
    it('echo a listed origin with Vary: Origin and the exposed headers, never credentials', async () => {
      const token = await sessionBearer(session, 'reader');
      for (const origin of [UI, LOCAL_UI]) {
        const res = await request(t.http)
          .get('/api/v1/developer/keys')
          .set('origin', origin)
          .set('authorization', token);
        expect(res.status).toBe(200);
        expect(corsHeaders(res)).toEqual({
          'access-control-allow-origin': origin,
          'access-control-expose-headers': 'Retry-After, X-Request-Id',
        });
        expect(res.headers.vary).toBe('Origin');
      }
    });

    it('carry the CORS headers on errors too, so the page can read them: a 401, a 400, a 404 and a 429', async () => {
      const noToken = await request(t.http).get('/api/v1/developer/projects').set('origin', UI);
      expect(noToken.status).toBe(401);
      expect(noToken.body).toEqual(UNAUTHORIZED);
      const token = await sessionBearer(session, 'errors');
      const malformed = await request(t.http)
        .post('/api/v1/developer/keys')
        .set('origin', UI)
        .set('authorization', token)
        .set('content-type', 'application/json')
        .send('{not json');
      expect(malformed.status).toBe(400);
      const missing = await request(t.http)
        .get(concrete('/api/v1/developer/keys/:id'))
        .set('origin', UI)
        .set('authorization', token);
      expect(missing.status).toBe(404);
      for (const res of [noToken, malformed, missing]) {
        expect(res.headers['access-control-allow-origin']).toBe(UI);
        expect(res.headers.vary).toBe('Origin');
      }

      const writer = await sessionBearer(session, 'limited');
      const mint = () =>
        request(t.http)
          .post('/api/v1/developer/keys')
          .set('origin', UI)
          .set('authorization', writer)
          .send({});
      expect((await mint()).status).toBe(201);
      expect((await mint()).status).toBe(201);
      const limited = await mint();
      expect(limited.status).toBe(429);
      expect(limited.headers['retry-after']).toMatch(/^\d+$/);
      expect(corsHeaders(limited)).toEqual({
        'access-control-allow-origin': UI,
        'access-control-expose-headers': 'Retry-After, X-Request-Id',
      });
    });

    it('give an unlisted origin, or no origin, no CORS header (Vary: Origin all the same)', async () => {
      const token = await sessionBearer(session, 'reader');
      for (const origin of [...UNLISTED, undefined]) {
        const req = request(t.http).get('/api/v1/developer/keys').set('authorization', token);
        const res = await (origin === undefined ? req : req.set('origin', origin));
        expect({ origin, status: res.status, cors: corsHeaders(res) }).toEqual({
          origin,
          status: 200,
          cors: {},
        });
        expect(res.headers.vary).toBe('Origin');
      }
    });

    it('never give an admin, internal or public route a CORS header, even for a listed origin', async () => {
      for (const r of routes.filter((x) => !x.browserCallable)) {
        const method = r.method.toLowerCase() as 'get' | 'post' | 'delete' | 'head';
        const res = await request(t.http)[method](concrete(r.path)).set('origin', UI);
        expect({ route: `${r.method} ${r.path}`, cors: corsHeaders(res), vary: res.headers.vary }).toEqual({
          route: `${r.method} ${r.path}`,
          cors: {},
          vary: undefined,
        });
      }
    });
  });
});
