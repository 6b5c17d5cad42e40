import type { AuthRequirement } from 'src/auth/auth.decorators';
import { startTestApp, type TestApp } from 'test/helpers/app';
import { createTestDatabase, type TestDatabase } from 'test/helpers/database';
import { controllerRoutes as declaredRoutes } from 'test/helpers/routes';

/**
 * What Express serves outside the controllers, and so outside the guards: Swagger's UI and documents
 * (public by design) and Nest's catch-all 404 handler.
 */
const OUTSIDE_CONTROLLERS = /^(GET \/api\/docs([-/].*)?|[A-Z-]+ \{\/\*splat\})$/;

interface RouteRequirement {
  route: string;
  auth: string;
  rateLimits: string;
}

function describeAuth(requirement: AuthRequirement | undefined): string {
  if (!requirement) return 'NONE (denied by the global guard)';
  return requirement.kind === 'm2m' ? `m2m:${requirement.scope}` : requirement.kind;
}

/** Every controller route of the running app, with the credential it takes and the rate limits it is on. */
function controllerRoutes(t: TestApp): RouteRequirement[] {
  return declaredRoutes(t).map((r) => ({
    route: `${r.method} ${r.path}`,
    auth: describeAuth(r.auth),
    rateLimits: r.buckets.join(', ') || '-',
  }));
}

/** What Express actually serves: `METHOD /path` for each route layer of its router. */
function expressRoutes(t: TestApp): string[] {
  const instance = t.app.getHttpAdapter().getInstance() as {
    router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
  };
  return instance.router.stack.flatMap((layer) =>
    layer.route
      ? Object.keys(layer.route.methods)
          .filter((m) => m !== '_all')
          .map((m) => `${m.toUpperCase()} ${layer.route!.path}`)
      : [],
  );
}

/**
 * The permission table. A change to it (a new route, a route that changed credential or rate limit) fails
 * this test until the snapshot is updated (`npx jest test/e2e/routes/route-permissions -u`), so it shows up in
 * review as a permission change.
 */
describe('route permissions', () => {
  let db: TestDatabase;
  let t: TestApp;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db, {});
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('every route declares its credential and rate limits (snapshot)', () => {
    const routes = controllerRoutes(t);
    const table = routes.map((r) => `${r.route.padEnd(56)} ${r.auth.padEnd(28)} ${r.rateLimits}`).join('\n');
    expect(`\n${table}\n`).toMatchSnapshot();
    expect(routes.filter((r) => r.auth.startsWith('NONE'))).toEqual([]);
  });

  it('the table covers every route Express serves', () => {
    const declared = new Set(controllerRoutes(t).map((r) => r.route.replace(/\/:(\w+)/g, '/:$1')));
    const served = expressRoutes(t);
    const outside = served.filter((r) => !declared.has(r));
    expect(outside.filter((r) => !OUTSIDE_CONTROLLERS.test(r))).toEqual([]);
    expect(outside).toEqual(expect.arrayContaining(['GET /api/docs-json']));
    for (const route of declared) expect(served).toContain(route);
  });
});
