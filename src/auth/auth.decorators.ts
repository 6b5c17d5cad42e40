import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ADMIN_RATE_LIMIT } from 'src/auth/admin/admin.rate-limits';
import { DefaultRateLimit } from 'src/rate-limit/rate-limit.decorator';

/** What credential a route takes. Every route must declare one: the global guard denies routes that don't. */
export type AuthRequirement =
  | { kind: 'public' }
  | { kind: 'metrics' }
  | { kind: 'admin' }
  | { kind: 'session' }
  | { kind: 'm2m'; scope: string };

export const AUTH_REQUIREMENT = 'keysmith:auth-requirement';

/** Open to anyone (health, JWKS, the provider's OAuth redirect). */
export const Public = (): MethodDecorator & ClassDecorator =>
  SetMetadata(AUTH_REQUIREMENT, { kind: 'public' } satisfies AuthRequirement);

/** Prometheus scrapes: METRICS_TOKEN as a bearer token when it is set, anyone when it is not. */
export const MetricsAuth = (): MethodDecorator & ClassDecorator =>
  applyDecorators(
    SetMetadata(AUTH_REQUIREMENT, { kind: 'metrics' } satisfies AuthRequirement),
    ApiBearerAuth('metrics'),
    ApiUnauthorizedResponse({
      description:
        'METRICS_TOKEN is set and was not presented (`unauthorized`); unset, no credential is needed.',
    }),
  );

/** Every admin route's 403 for the session of a disabled user (decision 0085). */
export const DISABLED_ADMIN_SESSION =
  'The session of a disabled user (`identity_not_allowed`), on every admin route, reads included.';

/**
 * The org admin surface: the tiered AdminAuth guard (bootstrap, session, org token, ADMIN_TOKEN, API key), on
 * the `admin` rate limit unless the route names its own.
 */
export const AdminAuth = (): MethodDecorator & ClassDecorator =>
  applyDecorators(
    SetMetadata(AUTH_REQUIREMENT, { kind: 'admin' } satisfies AuthRequirement),
    DefaultRateLimit(ADMIN_RATE_LIMIT),
    ApiBearerAuth('admin'),
    ApiUnauthorizedResponse({ description: 'No valid admin credential (`unauthorized`).' }),
    ApiForbiddenResponse({ description: DISABLED_ADMIN_SESSION }),
  );

/** A canvas settings UI user (session JWT). */
export const SessionAuth = (): MethodDecorator & ClassDecorator =>
  applyDecorators(
    SetMetadata(AUTH_REQUIREMENT, { kind: 'session' } satisfies AuthRequirement),
    ApiBearerAuth('session'),
    ApiUnauthorizedResponse({ description: 'No valid session JWT (`unauthorized`).' }),
  );

/** An internal service holding an M2M JWT with `scope`. */
export const M2MAuth = (scope: string): MethodDecorator & ClassDecorator =>
  applyDecorators(
    SetMetadata(AUTH_REQUIREMENT, { kind: 'm2m', scope } satisfies AuthRequirement),
    ApiBearerAuth('m2m'),
    ApiUnauthorizedResponse({ description: 'No valid M2M JWT (`unauthorized`).' }),
    ApiForbiddenResponse({ description: `The token lacks the \`${scope}\` scope (\`forbidden\`).` }),
  );
