import request from 'supertest';
import { rateLimitVariable } from 'src/rate-limit/rate-limit.config';
import { rateLimitPolicies } from 'src/rate-limit/rate-limit-policy';
import { startTestApp, type TestApp } from 'test/helpers/app';
import { createTestDatabase, type TestDatabase } from 'test/helpers/database';
import { TestIssuer } from 'test/helpers/issuer';
import { internalEnv, M2M_AUDIENCE, m2mToken, SESSION_AUDIENCE } from 'test/helpers/m2m';
import { controllerRoutes, type ControllerRoute } from 'test/helpers/routes';

/**
 * Properties every route must have, checked over the route table of the running app, so a new route gets
 * them tested without anyone remembering to: no credential and a wrong credential are the one 401, and a
 * body over 64 KiB is a 413 before anything else runs.
 */
describe('every route', () => {
  let db: TestDatabase;
  let session: TestIssuer;
  let m2m: TestIssuer;
  let t: TestApp;
  let routes: ControllerRoute[];

  const UNAUTHORIZED = { error: { type: 'unauthorized', status: 401, message: 'Authentication required.' } };
  // A concrete path for a route pattern: ids are well-formed UUIDs, slugs plain words.
  const concrete = (path: string): string =>
    path.replace(/:id\b/g, '00000000-0000-4000-8000-000000000000').replace(/:(\w+)/g, 'sample');
  const send = (r: ControllerRoute) => {
    const method = r.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
    return request(t.http)[method](concrete(r.path));
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    session = await TestIssuer.start(SESSION_AUDIENCE);
    m2m = await TestIssuer.start(M2M_AUDIENCE);
    // ADMIN_TOKEN set: bootstrap is closed, so the admin routes are closed too. Per-IP limits count before
    // authentication, so a tight one (oauth-start: 5 a minute) would answer 429 here before the 401 under test.
    const roomyIpLimits = Object.fromEntries(
      rateLimitPolicies()
        .filter((p) => p.per === 'ip')
        .map((p) => [rateLimitVariable(p), '100000/60s']),
    );
    t = await startTestApp(db, {
      ...internalEnv(m2m, session),
      ADMIN_TOKEN: 'a'.repeat(40),
      // /metrics is guarded once METRICS_TOKEN is set: the same 401s as every other guarded route.
      METRICS_TOKEN: 'm'.repeat(40),
      ...roomyIpLimits,
    });
    routes = controllerRoutes(t);
  });

  afterAll(async () => {
    await t?.close();
    await session?.stop();
    await m2m?.stop();
    await db?.drop();
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

  it('answers a body over 64 KiB with 413 on every route that takes one', async () => {
    const big = JSON.stringify({ filler: 'x'.repeat(70 * 1024) });
    for (const r of routes.filter((x) => ['POST', 'PUT', 'PATCH'].includes(x.method))) {
      const res = await send(r).set('content-type', 'application/json').send(big);
      expect({ route: `${r.method} ${r.path}`, status: res.status }).toEqual({
        route: `${r.method} ${r.path}`,
        status: 413,
      });
      expect(res.body).toMatchObject({ error: { type: 'payload_too_large', status: 413 } });
    }
  });
});
