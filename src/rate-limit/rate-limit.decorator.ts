import { applyDecorators, SetMetadata } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import { ApiTooManyRequestsResponse } from '@nestjs/swagger';
import { describePolicy, type RateLimitPolicy } from 'src/rate-limit/rate-limit-policy';

export const RATE_LIMITS = 'keysmith:rate-limits';
export const DEFAULT_RATE_LIMITS = 'keysmith:default-rate-limits';

/** The policies a route's requests count against; replaces any default (`DefaultRateLimit`). */
export const RateLimit = (
  ...policies: [RateLimitPolicy, ...RateLimitPolicy[]]
): MethodDecorator & ClassDecorator =>
  applyDecorators(
    SetMetadata(RATE_LIMITS, policies),
    ApiTooManyRequestsResponse({
      description: `Rate limited (\`rate_limited\`, with \`Retry-After\`): ${policies
        .map(describePolicy)
        .join('; ')}.`,
    }),
  );

/**
 * The policies of a route that names none with `@RateLimit`: how a family of routes gets a limit by default
 * (every `@AdminAuth` route is on the `admin` policy).
 */
export const DefaultRateLimit = (...policies: RateLimitPolicy[]): MethodDecorator & ClassDecorator =>
  SetMetadata(DEFAULT_RATE_LIMITS, policies);

type ReflectTarget = Parameters<Reflector['getAllAndOverride']>[1][number];

/** The policies a route handler counts against: its `@RateLimit` ones, else its defaults. */
export function routeRateLimits(
  reflector: Reflector,
  handler: ReflectTarget,
  controller: ReflectTarget,
): readonly RateLimitPolicy[] {
  const targets = [handler, controller];
  return (
    reflector.getAllAndOverride<RateLimitPolicy[] | undefined>(RATE_LIMITS, targets) ??
    reflector.getAllAndOverride<RateLimitPolicy[] | undefined>(DEFAULT_RATE_LIMITS, targets) ??
    []
  );
}
