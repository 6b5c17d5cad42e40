import { defineConfig } from 'src/config/config-slice';
import type { EnvReader } from 'src/config/env-reader';
import { rateLimitPolicies, type RateLimitPolicy } from 'src/rate-limit/rate-limit-policy';

export interface RateLimitConfig {
  /** Shared counts for several instances; unset: each instance counts in memory. */
  redisUrl?: string;
  /** Limits set by `RATE_LIMIT_<POLICY>=<limit>/<window>`, by policy name; the others keep their defaults. */
  overrides: ReadonlyMap<string, { limit: number; windowSeconds: number }>;
}

const PREFIX = 'RATE_LIMIT_';
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;
const MAX_WINDOW_SECONDS = 7 * 86400;

/** `RATE_LIMIT_ORG_TOKEN_MINT` for the policy `org-token-mint`. */
export function rateLimitVariable(policy: Pick<RateLimitPolicy, 'name'>): string {
  return PREFIX + policy.name.toUpperCase().replace(/-/g, '_');
}

export const rateLimitConfig = defineConfig('rate-limit', (env): RateLimitConfig => ({
  redisUrl: env.url('REDIS_URL', ['redis:', 'rediss:']),
  overrides: parseOverrides(env),
}));

/**
 * Every `RATE_LIMIT_*` variable must name a defined policy and read `<limit>/<window>`: a positive integer,
 * then a window of 1 s to 7 days written as seconds (`60`) or with a unit (`60s`, `10m`, `1h`, `1d`).
 */
function parseOverrides(env: EnvReader): Map<string, { limit: number; windowSeconds: number }> {
  const byVariable = new Map(rateLimitPolicies().map((p) => [rateLimitVariable(p), p]));
  const overrides = new Map<string, { limit: number; windowSeconds: number }>();
  for (const name of env.names(PREFIX)) {
    const policy = byVariable.get(name);
    if (!policy) {
      env.problem(`${name} names no rate-limit policy (known: ${[...byVariable.keys()].join(', ')})`);
      continue;
    }
    const match = /^(\d{1,9})\/(\d{1,7})([smhd]?)$/.exec(env.str(name) ?? '');
    const limit = Number(match?.[1]);
    const windowSeconds = Number(match?.[2]) * UNIT_SECONDS[(match?.[3] || 's') as keyof typeof UNIT_SECONDS];
    if (!match || limit < 1 || windowSeconds < 1 || windowSeconds > MAX_WINDOW_SECONDS) {
      env.problem(`${name} must be <limit>/<window>, e.g. 300/60s or 10/1h (limit ≥ 1, window 1 s to 7 d)`);
      continue;
    }
    overrides.set(policy.name, { limit, windowSeconds });
  }
  return overrides;
}
