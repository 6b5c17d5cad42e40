import { SetMetadata } from '@nestjs/common';

/**
 * The scopes an org token can hold (contract: "Key lifecycle", org tokens). `admin` is everything;
 * `admin:read` is every GET of the admin surface; the rest each open one family of writes.
 */
export const ADMIN_SCOPES = [
  'admin',
  'admin:read',
  'org-tokens:write',
  'api-keys:admin',
  'users:admin',
  'webhooks:admin',
  'audit:read',
] as const;

export type AdminScope = (typeof ADMIN_SCOPES)[number];

export const ADMIN_SCOPE = 'keysmith:admin-scope';

/**
 * The org-token scope an `@AdminAuth()` route requires (on the method, or on the controller for all of its
 * routes). Sessions, `ADMIN_TOKEN` and the bootstrap tier hold every scope.
 */
export const RequiresAdminScope = (scope: AdminScope): MethodDecorator & ClassDecorator =>
  SetMetadata(ADMIN_SCOPE, scope);
