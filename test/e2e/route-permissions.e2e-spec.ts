import type { AuthRequirement } from 'src/auth/auth.decorators';
import { startTestApp, type TestApp } from 'test/helpers/app';
import { createTestDatabase, type TestDatabase } from 'test/helpers/database';
import { controllerRoutes as declaredRoutes } from 'test/helpers/routes';

/**
 * What Fastify serves outside the controllers, and so outside the guards: Swagger's UI, its static assets and
 * documents (public by design).
 */
const OUTSIDE_CONTROLLERS = /^GET \/api\/docs([-/*].*)?$/;

interface RouteRequirement {
  route: string;
  auth: string;
  rateLimits: string;
}

function describeAuth(requirement: AuthRequirement | undefined): string {
  if (!requirement) return 'NONE (denied by the global guard)';
  if (requirement.kind === 'm2m') return `m2m:${requirement.scope}`;
  if (requirement.kind === 'metrics') return 'METRICS_TOKEN if set';
  return requirement.kind;
}

/** Every controller route of the running app, with the credential it takes and the rate limits it is on. */
function controllerRoutes(t: TestApp): RouteRequirement[] {
  return declaredRoutes(t).map((r) => ({
    route: `${r.method} ${r.path}`,
    auth: describeAuth(r.auth),
    rateLimits: r.buckets.join(', ') || '-',
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
 * The permission table. A change to it (a new route, a route that changed credential or rate limit) fails
 * this test until the snapshot is updated (`npx jest test/e2e/route-permissions -u`), so it shows up in
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

  it('the table covers every route Fastify serves', () => {
    const declared = new Set(controllerRoutes(t).map((r) => r.route.replace(/\/:(\w+)/g, '/:$1')));
    const served = servedRoutes(t);
    const outside = served.filter((r) => !declared.has(r));
    expect(outside.filter((r) => !OUTSIDE_CONTROLLERS.test(r))).toEqual([]);
    expect(outside).toEqual(expect.arrayContaining(['GET /api/docs-json']));
    for (const route of declared) expect(served).toContain(route);
  });
});
