import request from 'supertest';
import type { AdminRouteScope } from 'src/auth/admin/admin-scopes';
import type { AuthRequirement } from 'src/auth/auth.decorators';
import { rateLimitVariable } from 'src/rate-limit/rate-limit.config';
import { rateLimitPolicies } from 'src/rate-limit/rate-limit-policy';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { UNAUTHORIZED } from 'test/helpers/http';
import { internalEnv, M2M_AUDIENCE, m2mToken, SESSION_AUDIENCE, TestIssuer } from 'test/helpers/issuers';
import { controllerRoutes as declaredRoutes, type ControllerRoute } from 'test/helpers/routes';

// The route table of the running app: what each route declares (the permission snapshot), and what every
// route does whatever it is (the one 401, OpenAPI, 413), so a new route is covered without anyone remembering.

/**
 * What Fastify serves outside the controllers, and so outside the guards: Swagger's UI, its static assets and
 * documents (public by design).
 */
const OUTSIDE_CONTROLLERS = /^GET \/api\/docs([-/*].*)?$/;

interface RouteRequirement {
  route: string;
  auth: string;
  /** An admin route's org-token scope. */
  scope: string;
  rateLimits: string;
  /** `cors` when the settings UI's page may call it from the browser. */
  browser: string;
}

function describeAuth(requirement: AuthRequirement | undefined): string {
  if (!requirement) return 'NONE (denied by the global guard)';
  if (requirement.kind === 'm2m') return `m2m:${requirement.scope}`;
  if (requirement.kind === 'metrics') return 'METRICS_TOKEN if set';
  return requirement.kind;
}

/**
 * The org-token scope an admin route requires (`admin` and, on a GET, `admin:read` also open it: decision
 * 0070); `-` for every other route.
 */
function describeScope(adminScope: AdminRouteScope | undefined): string {
  if (!adminScope) return '-';
  if (adminScope.declared === undefined) return 'UNDECLARED (admin only)';
  return adminScope.declared === 'any' ? 'any scope' : adminScope.declared;
}

/**
 * Every controller route of the running app, with the credential it takes, whether a browser page on
 * SETTINGS_UI_ORIGIN may call it (CORS) and the rate limits it is on.
 */
function controllerRoutes(t: TestApp): RouteRequirement[] {
  return declaredRoutes(t).map((r) => ({
    route: `${r.method} ${r.path}`,
    auth: describeAuth(r.auth),
    scope: describeScope(r.adminScope),
    rateLimits: r.buckets.join(', ') || '-',
    browser: r.browserCallable ? 'cors' : '-',
  }));
}

/**
 * What Fastify actually serves: `METHOD /path` for each route of its router, read from `printRoutes()`'s
 * tree (one route per line, children indented by four characters under their parent's path). The HEAD
 * routes Fastify adds for every GET are left out.
 */
function servedRoutes(t: TestApp): string[] {
  const tree = (t.app.getHttpAdapter().getInstance() as { printRoutes(o: object): string }).printRoutes({
    commonPrefix: false,
  });
  const parents: string[] = [];
  return tree.split('\n').flatMap((line) => {
    const match = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) return [];
    const depth = match[1]!.length / 4;
    const path = (parents[depth - 1] ?? '') + match[2]!;
    parents[depth] = path;
    return (match[3] ?? '')
      .split(', ')
      .filter((m) => m && m !== 'HEAD')
      .map((m) => `${m} ${path}`);
  });
}

/**
 * The permission table. A change to it (a new route, a route that changed credential, CORS or rate limit) fails
 * this test until the snapshot is updated (`npx jest test/e2e/routes/route-table -u`), so it shows up in
 * review as a permission change.
 */
describe('route permissions', () => {
  const suite = e2eSuite({ issuers: false });
  let t: TestApp;

  beforeAll(async () => {
    t = await suite.start({});
  });

  it('every route declares its credential, admin scope, CORS and rate limits (snapshot)', () => {
    const routes = controllerRoutes(t);
    const table = routes
      .map(
        (r) =>
          `${r.route.padEnd(56)} ${r.auth.padEnd(28)} ${r.scope.padEnd(18)} ${r.browser.padEnd(5)} ${r.rateLimits}`,
      )
      .join('\n');
    expect(`\n${table}\n`).toMatchSnapshot();
    expect(routes.filter((r) => r.auth.startsWith('NONE'))).toEqual([]);
  });

  it('every admin route declares its org-token scope (one that does not would need `admin`)', () => {
    const undeclared = declaredRoutes(t)
      .filter((r) => r.auth?.kind === 'admin' && r.adminScope?.declared === undefined)
      .map((r) => `${r.method} ${r.path}`);
    expect(undeclared).toEqual([]);
  });

  it('the table covers every route Fastify serves', () => {
    // A declared HEAD route (the provider callback's) looks like the HEAD routes Fastify derives, which
    // servedRoutes leaves out: the snapshot above covers it.
    const declared = new Set(
      controllerRoutes(t)
        .filter((r) => !r.route.startsWith('HEAD '))
        .map((r) => r.route.replace(/\/:(\w+)/g, '/:$1')),
    );
    const served = servedRoutes(t);
    const outside = served.filter((r) => !declared.has(r));
    expect(outside.filter((r) => !OUTSIDE_CONTROLLERS.test(r))).toEqual([]);
    expect(outside).toEqual(expect.arrayContaining(['GET /api/docs-json']));
    for (const route of declared) expect(served).toContain(route);
  });
});

/**
 * Properties every route must have, checked over the route table of the running app, so a new route gets
 * them tested without anyone remembering to: no credential and a wrong credential are the one 401, and a
 * body over 64 KiB is a 413 before anything else runs.
 */
describe('every route', () => {
  const suite = e2eSuite({ issuers: false });
  let session: TestIssuer;
  let m2m: TestIssuer;
  let t: TestApp;
  let routes: ControllerRoute[];

  // A concrete path for a route pattern: ids are well-formed UUIDs, slugs plain words.
  const concrete = (path: string): string =>
    path.replace(/:id\b/g, '00000000-0000-4000-8000-000000000000').replace(/:(\w+)/g, 'sample');
  const send = (r: ControllerRoute) => {
    const method = r.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
    return request(t.http)[method](concrete(r.path));
  };

  beforeAll(async () => {
    session = await TestIssuer.start(SESSION_AUDIENCE);
    m2m = await TestIssuer.start(M2M_AUDIENCE);
    // ADMIN_TOKEN set: bootstrap is closed, so the admin routes are closed too. Per-IP limits count before
    // authentication, so a tight one (oauth-start: 5 a minute) would answer 429 here before the 401 under test.
    const roomyIpLimits = Object.fromEntries(
      rateLimitPolicies()
        .filter((p) => p.per === 'ip')
        .map((p) => [rateLimitVariable(p), '100000/60s']),
    );
    t = await suite.start({
      ...internalEnv(m2m, session),
      ADMIN_TOKEN: 'a'.repeat(40),
      // /metrics is guarded once METRICS_TOKEN is set: the same 401s as every other guarded route.
      METRICS_TOKEN: 'm'.repeat(40),
      ...roomyIpLimits,
    });
    routes = declaredRoutes(t);
  });

  afterAll(async () => {
    await session?.stop();
    await m2m?.stop();
  });

  const guarded = (): ControllerRoute[] => routes.filter((r) => r.auth?.kind !== 'public');

  it('has routes to check, and every one declares its credential', () => {
    expect(guarded().length).toBeGreaterThan(10);
    expect(routes.filter((r) => r.auth === undefined)).toEqual([]);
  });

  it('answers no credential with the one 401', async () => {
    for (const r of guarded()) {
      const res = await send(r);
      expect({ route: `${r.method} ${r.path}`, status: res.status, body: res.body as unknown }).toEqual({
        route: `${r.method} ${r.path}`,
        status: 401,
        body: UNAUTHORIZED,
      });
    }
  });

  it('answers a wrong credential of every kind with the one 401', async () => {
    const wrong = [
      'garbage',
      'kso_00000000000000000000000000000000000000',
      `ksk_${'0'.repeat(16)}_${'0'.repeat(64)}`,
      `ksk_${'0'.repeat(16)}_${'0'.repeat(64)}_4e8I45`,
      await session.token({ sub: 'u1' }, { expiresIn: -60 }),
    ];
    for (const r of guarded()) {
      // An M2M route refuses a session token; every other route refuses an M2M token.
      const crossed =
        r.auth?.kind === 'm2m'
          ? await session.token({ sub: 'u1' })
          : await m2mToken(m2m, 'svc', 'provision:apikey');
      for (const credential of [...wrong, crossed]) {
        const res = await send(r).set('authorization', `Bearer ${credential}`);
        expect({ route: `${r.method} ${r.path}`, status: res.status, body: res.body as unknown }).toEqual({
          route: `${r.method} ${r.path}`,
          status: 401,
          body: UNAUTHORIZED,
        });
      }
    }
  });

  it('is described in the OpenAPI document, with a summary', async () => {
    const doc = (await request(t.http).get('/api/docs-json').expect(200)).body as {
      paths: Record<string, Record<string, { summary?: string }>>;
    };
    const undocumented = routes
      .filter((r) => !doc.paths[r.path.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()]?.summary)
      .map((r) => `${r.method} ${r.path}`);
    expect(undocumented).toEqual([]);
  });

  it("answers a body over 64 KiB (or a raw-body route's own cap) with 413 on every route that takes one", async () => {
    for (const r of routes.filter((x) => ['POST', 'PUT', 'PATCH'].includes(x.method))) {
      const big = JSON.stringify({ filler: 'x'.repeat(r.bodyLimit + 6 * 1024) });
      const res = await send(r).set('content-type', 'application/json').send(big);
      expect({ route: `${r.method} ${r.path}`, status: res.status }).toEqual({
        route: `${r.method} ${r.path}`,
        status: 413,
      });
      expect(res.body).toMatchObject({ error: { type: 'payload_too_large', status: 413 } });
    }
  });
});
