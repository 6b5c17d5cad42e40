import { ADMIN_SCOPE, type AdminScope } from 'src/auth/admin/admin-scopes';
import { AUTH_REQUIREMENT } from 'src/auth/auth.decorators';
import { AuditController } from 'src/audit/audit.controller';
import { AdminApiKeysController } from 'src/offboarding/admin-api-keys.controller';
import { AdminUsersController } from 'src/offboarding/admin-users.controller';

/** Issue 20: every new admin route declares AdminAuth and the org-token scope API.md names in brackets. */
describe('the admin inventory routes declare their scopes', () => {
  it.each<[string, object, string, AdminScope]>([
    ['GET /api/v1/admin/api-keys', AdminApiKeysController, 'list', 'admin:read'],
    ['POST /api/v1/admin/api-keys/:id/revoke', AdminApiKeysController, 'revoke', 'api-keys:admin'],
    ['GET /api/v1/admin/users', AdminUsersController, 'list', 'admin:read'],
    ['POST /api/v1/admin/users/:id/disable', AdminUsersController, 'disable', 'users:admin'],
    ['POST /api/v1/admin/users/:id/enable', AdminUsersController, 'enable', 'users:admin'],
    ['GET /api/v1/audit-events', AuditController, 'list', 'audit:read'],
  ])('%s: AdminAuth, %s', (_route, controller, method, scope) => {
    const handler = (controller as { prototype: Record<string, object> }).prototype[method]!;
    expect(Reflect.getMetadata(ADMIN_SCOPE, handler)).toBe(scope);
    expect(Reflect.getMetadata(AUTH_REQUIREMENT, controller)).toEqual({ kind: 'admin' });
  });
});
