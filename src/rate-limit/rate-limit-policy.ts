/**
 * What a request is counted against, and which requests count: `ip`, the client IP, every request (before
 * authentication); `authenticated-ip`, the client IP, only requests that authenticated; `principal`, the
 * authenticated principal (an M2M client, a session user, an admin actor).
 */
export type RateLimitScope = 'ip' | 'authenticated-ip' | 'principal';

/**
 * A named limit shared by every route that uses it. Features declare their own policies next to the routes
 * that use them (`defineRateLimit`); the composition root lists each by name in `RATE_LIMIT_POLICIES`
 * (src/app.registrations.ts), so that wherever the configuration is loaded every policy is defined, even
 * where no controller is (the rewrap).
 */
export interface RateLimitPolicy {
  readonly name: string;
  readonly limit: number;
  readonly windowSeconds: number;
  readonly per: RateLimitScope;
}

const policies = new Map<string, RateLimitPolicy>();

export function defineRateLimit(
  name: string,
  rule: { limit: number; windowSeconds: number; per: RateLimitScope },
): RateLimitPolicy {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new Error(`rate-limit policy name "${name}" is not kebab-case`);
  if (policies.has(name)) throw new Error(`rate-limit policy "${name}" is defined twice`);
  const policy: RateLimitPolicy = Object.freeze({ name, ...rule });
  policies.set(name, policy);
  return policy;
}

/** Every policy defined so far, in the order defined: what `RATE_LIMIT_<POLICY>` variables may name. */
export function rateLimitPolicies(): readonly RateLimitPolicy[] {
  return [...policies.values()];
}

export function describePolicy(p: RateLimitPolicy): string {
  const window = p.windowSeconds % 3600 === 0 ? `${p.windowSeconds / 3600} h` : `${p.windowSeconds} s`;
  const per = {
    ip: 'client IP',
    'authenticated-ip': 'client IP (authenticated requests)',
    principal: 'caller',
  };
  return `${p.name}: ${p.limit} per ${window} per ${per[p.per]}`;
}
