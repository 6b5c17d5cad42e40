import { applyDecorators, Controller } from '@nestjs/common';
import { ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import { AdminAuth } from 'src/auth/auth.decorators';

/** A controller of the admin surface: every route behind `@AdminAuth()`, under `path`, grouped as `tag`. */
export const AdminRoutes = (path: string, tag: string): ClassDecorator =>
  applyDecorators(ApiTags(tag), AdminAuth(), Controller(path));

/** The 429 of a route on the `admin` rate limit (ADMIN_RATE_LIMIT, the default of `@AdminAuth()`). */
export const AdminRateLimitedResponse = (): MethodDecorator & ClassDecorator =>
  ApiTooManyRequestsResponse({ description: 'Admin rate limit (`rate_limited`, with `Retry-After`).' });
