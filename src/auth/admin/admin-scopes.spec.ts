import {
  ADMIN_SCOPES,
  adminScopesOf,
  grantsAdminRoute,
  inCatalogOrder,
  requiredAdminScope,
  scopesNotHeld,
  type AdminRouteScope,
  type AdminScope,
} from 'src/auth/admin/admin-scopes';

const get = (declared: AdminRouteScope['declared']): AdminRouteScope => ({ declared, read: true });
const post = (declared: AdminRouteScope['declared']): AdminRouteScope => ({ declared, read: false });

describe('grantsAdminRoute', () => {
  it('`admin` opens every route, declared or not, read or write', () => {
    for (const declared of [...ADMIN_SCOPES, 'any', undefined] as const) {
      expect(grantsAdminRoute(['admin'], get(declared))).toBe(true);
      expect(grantsAdminRoute(['admin'], post(declared))).toBe(true);
    }
  });

  it('a scope opens the routes that declare it, whatever their method', () => {
    expect(grantsAdminRoute(['org-tokens:write'], post('org-tokens:write'))).toBe(true);
    expect(grantsAdminRoute(['audit:read'], get('audit:read'))).toBe(true);
    expect(grantsAdminRoute(['users:admin'], post('org-tokens:write'))).toBe(false);
    expect(grantsAdminRoute(['org-tokens:write'], get('admin:read'))).toBe(false);
  });

  it('`admin:read` opens every GET that declares a scope, and no write', () => {
    for (const declared of ADMIN_SCOPES) {
      expect(grantsAdminRoute(['admin:read'], get(declared))).toBe(true);
      expect(grantsAdminRoute(['admin:read'], post(declared))).toBe(declared === 'admin:read');
    }
  });

  it('`audit:read` opens the audit routes only', () => {
    expect(grantsAdminRoute(['audit:read'], get('admin:read'))).toBe(false);
    expect(grantsAdminRoute(['audit:read'], get('api-keys:admin'))).toBe(false);
  });

  it('a route that declares no scope needs `admin`, even a GET (deny by default)', () => {
    const narrow = ADMIN_SCOPES.filter((s) => s !== 'admin');
    expect(grantsAdminRoute(narrow, get(undefined))).toBe(false);
    expect(grantsAdminRoute(narrow, post(undefined))).toBe(false);
    expect(requiredAdminScope(get(undefined))).toBe('admin');
  });

  it('`any` opens the route to every credential, even one holding none of the route scopes', () => {
    expect(grantsAdminRoute(['audit:read'], get('any'))).toBe(true);
    expect(grantsAdminRoute([], get('any'))).toBe(true);
  });

  it('nothing is opened by holding nothing', () => {
    expect(grantsAdminRoute([], get('admin:read'))).toBe(false);
  });
});

describe('scopesNotHeld', () => {
  it('`admin` may hand out every scope', () => {
    expect(scopesNotHeld(['admin'], [...ADMIN_SCOPES])).toEqual([]);
  });

  it('any other scope only itself: the scopes a token would get beyond the caller, in order', () => {
    expect(scopesNotHeld(['org-tokens:write'], ['org-tokens:write'])).toEqual([]);
    expect(scopesNotHeld(['org-tokens:write'], ['admin', 'org-tokens:write', 'audit:read'])).toEqual([
      'admin',
      'audit:read',
    ]);
    // Compared by name: `admin:read` does not cover `audit:read`, though every audit route is a GET.
    expect(scopesNotHeld(['admin:read', 'org-tokens:write'], ['audit:read'])).toEqual(['audit:read']);
  });
});

describe('catalog helpers', () => {
  it('orders scopes as the catalog does, whatever order they came in', () => {
    const shuffled: AdminScope[] = ['audit:read', 'admin:read', 'org-tokens:write'];
    expect(inCatalogOrder(shuffled)).toEqual(['admin:read', 'org-tokens:write', 'audit:read']);
  });

  it('drops a stored scope the catalog does not know (it grants nothing), frozen', () => {
    const scopes = adminScopesOf(['admin:read', 'root']);
    expect(scopes).toEqual(['admin:read']);
    expect(Object.isFrozen(scopes)).toBe(true);
  });
});
