import request from 'supertest';
import {
  ADMIN_SCOPES,
  grantsAdminRoute,
  requiredAdminScope,
  type AdminScope,
} from 'src/auth/admin/admin-scopes';
import { OrgTokensService } from 'src/org-tokens/org-tokens.service';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { mintOrgToken } from 'test/helpers/factories';
import { controllerRoutes, type ControllerRoute } from 'test/helpers/routes';

const ADMIN_TOKEN = 'break-glass-admin-token-for-admin-route-scopes';

/**
 * Every admin route, walked from the running app's route table, against a token of each scope of the catalog
 * (decision 0070): the guard lets a token in exactly when its scope opens the route, and refuses it otherwise
 * with the one 403 naming the route's scope. A new admin route is covered without anyone writing its test.
 */
describe('AdminAuth: every admin route checks the org-token scope', () => {
  const suite = e2eSuite({ issuers: false });
  let t: TestApp;
  let routes: ControllerRoute[];
  const tokens = new Map<AdminScope, string>();
  const secrets: string[] = [ADMIN_TOKEN];

  // A concrete path for a route pattern: ids are well-formed UUIDs that name nothing, slugs plain words.
  const concrete = (path: string): string =>
    path.replace(/:id\b/g, '00000000-0000-4000-8000-000000000000').replace(/:(\w+)/g, 'sample');
  const send = (r: ControllerRoute, method: string, credential: string) => {
    const verb = method.toLowerCase() as 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete';
    const req = request(t.http)[verb](concrete(r.path)).set('authorization', `Bearer ${credential}`);
    return ['POST', 'PUT', 'PATCH'].includes(method) ? req.send({}) : req;
  };

  beforeAll(async () => {
    t = await suite.start({
      ADMIN_TOKEN,
      RATE_LIMIT_ORG_TOKEN_MINT: '100000/1h',
      RATE_LIMIT_ADMIN: '100000/60s',
    });
    routes = controllerRoutes(t).filter((r) => r.auth?.kind === 'admin');
    for (const scope of ADMIN_SCOPES) {
      const { token } = await mintOrgToken(t.http, `Bearer ${ADMIN_TOKEN}`, {
        name: `scope ${scope}`,
        scopes: [scope],
      });
      tokens.set(scope, token);
      secrets.push(token);
    }
  });

  suite.beforeTeardown(async () => {
    await t?.app.get(OrgTokensService).settle();
    if (t) expect(t.logs.leaked(secrets)).toEqual([]);
  });

  it('has admin routes to walk, each with a declared scope', () => {
    expect(routes.length).toBeGreaterThanOrEqual(6);
    expect(routes.filter((r) => r.adminScope?.declared === undefined)).toEqual([]);
  });

  it('lets a token in exactly when one of its scopes opens the route, else 403 forbidden naming the scope', async () => {
    const outcomes: string[] = [];
    for (const r of routes) {
      const route = r.adminScope!;
      const methods = r.method === 'GET' ? ['GET', 'HEAD'] : [r.method];
      for (const scope of ADMIN_SCOPES) {
        for (const method of methods) {
          const res = await send(r, method, tokens.get(scope)!);
          const refusedByScope =
            res.status === 403 &&
            (method === 'HEAD' ||
              (res.body as { error?: { message?: string } }).error?.message ===
                `The credential lacks the ${requiredAdminScope(route)} scope.`);
          const expected = grantsAdminRoute([scope], route) ? 'let in' : 'refused';
          outcomes.push(`${method} ${r.path} ${scope}: ${refusedByScope ? 'refused' : 'let in'}`);
          expect(`${method} ${r.path} ${scope}: ${refusedByScope ? 'refused' : 'let in'}`).toBe(
            `${method} ${r.path} ${scope}: ${expected}`,
          );
          expect(res.status).not.toBe(401);
          if (refusedByScope && method !== 'HEAD') {
            expect(res.body).toEqual({
              error: {
                type: 'forbidden',
                status: 403,
                message: `The credential lacks the ${requiredAdminScope(route)} scope.`,
              },
            });
          }
        }
      }
    }
    // The walk saw both sides: some routes opened by a narrow scope, some refused.
    expect(outcomes.some((o) => o.endsWith('admin:read: let in'))).toBe(true);
    expect(outcomes.some((o) => o.endsWith('admin:read: refused'))).toBe(true);
  });

  it('ADMIN_TOKEN (which holds `admin`) is refused by no route’s scope', async () => {
    for (const r of routes) {
      const res = await send(r, r.method, ADMIN_TOKEN);
      expect({ route: `${r.method} ${r.path}`, status: res.status }).not.toEqual({
        route: `${r.method} ${r.path}`,
        status: 403,
      });
    }
  });
});
