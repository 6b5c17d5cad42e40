import { defineConfig } from 'src/config/config-slice';
import type { EnvReader } from 'src/config/env-reader';
import { DEFAULT_MAX_KEYS } from 'src/rate-limit/memory-rate-limit-storage';
import { rateLimitPolicies, type RateLimitPolicy } from 'src/rate-limit/rate-limit-policy';

export interface RateLimitConfig {
  /** Shared counts for several instances; unset: each instance counts in memory. */
  redisUrl?: string;
  /** Limits set by `RATE_LIMIT_<POLICY>=<limit>/<window>`, by policy name; the others keep their defaults. */
  overrides: ReadonlyMap<string, { limit: number; windowSeconds: number }>;
  /**
   * RATE_LIMIT_MAX_KEYS: the keys (a policy and a caller) counted in this instance's memory at most; past
   * it, new callers share one count per policy (MemoryRateLimitStorage).
   */
  maxKeys: number;
  /** RATE_LIMIT_IPV6_PREFIX: IPv6 clients are counted per network of this prefix length (/64 by default). */
  ipv6Prefix: number;
}

const PREFIX = 'RATE_LIMIT_';
const MAX_KEYS = 'RATE_LIMIT_MAX_KEYS';
const IPV6_PREFIX = 'RATE_LIMIT_IPV6_PREFIX';
/** Variables of this slice that share the prefix of the policies' but name none. */
const SETTINGS = new Set([MAX_KEYS, IPV6_PREFIX]);
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;
const MAX_WINDOW_SECONDS = 7 * 86400;

/** `RATE_LIMIT_ORG_TOKEN_MINT` for the policy `org-token-mint`. */
export function rateLimitVariable(policy: Pick<RateLimitPolicy, 'name'>): string {
  return PREFIX + policy.name.toUpperCase().replace(/-/g, '_');
}

export const rateLimitConfig = defineConfig('rate-limit', (env): RateLimitConfig => ({
  redisUrl: env.url('REDIS_URL', ['redis:', 'rediss:']),
  overrides: parseOverrides(env),
  maxKeys: env.int(MAX_KEYS, DEFAULT_MAX_KEYS, 1, 10_000_000),
  ipv6Prefix: env.int(IPV6_PREFIX, 64, 16, 128),
}));

/**
 * Every `RATE_LIMIT_*` variable must name a defined policy and read `<limit>/<window>`: a positive integer,
 * then a window of 1 s to 7 days written as seconds (`60`) or with a unit (`60s`, `10m`, `1h`, `1d`).
 */
function parseOverrides(env: EnvReader): Map<string, { limit: number; windowSeconds: number }> {
  const byVariable = new Map(rateLimitPolicies().map((p) => [rateLimitVariable(p), p]));
  for (const variable of SETTINGS)
    if (byVariable.has(variable)) throw new Error(`a rate-limit policy's variable would be ${variable}`);
  const overrides = new Map<string, { limit: number; windowSeconds: number }>();
  for (const name of env.names(PREFIX)) {
    if (SETTINGS.has(name)) continue;
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
