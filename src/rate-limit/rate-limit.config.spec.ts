import { PROVISION_RATE_LIMIT } from 'src/api-keys/provisioning.rate-limits';
import { ADMIN_RATE_LIMIT } from 'src/auth/admin/admin.rate-limits';
import { loadSlice } from 'src/config/config-slice';
import type { Env } from 'src/config/env-reader';
import { ORG_TOKEN_MINT_RATE_LIMIT } from 'src/org-tokens/org-tokens.rate-limits';
import { rateLimitConfig, rateLimitVariable } from 'src/rate-limit/rate-limit.config';
import { DEVELOPER_WRITE_RATE_LIMIT } from 'src/users/users.rate-limits';
import { configProblems } from 'test/helpers/config';

// The policies above register themselves on import, as the features that define them do in the app.
const POLICIES = [
  ADMIN_RATE_LIMIT,
  ORG_TOKEN_MINT_RATE_LIMIT,
  PROVISION_RATE_LIMIT,
  DEVELOPER_WRITE_RATE_LIMIT,
];

/** The problems the rate-limit slice finds in `env` (none: []). */
const problemsOf = (env: Env): string[] => configProblems(() => loadSlice(rateLimitConfig, env));

const overrides = (env: Env) => Object.fromEntries(loadSlice(rateLimitConfig, env).overrides);

describe('the rate-limit slice (REDIS_URL, RATE_LIMIT_<POLICY>)', () => {
  it('counts in memory with no overrides by default, at most 100,000 keys, IPv6 per /64', () => {
    const config = loadSlice(rateLimitConfig, {});
    expect(config.redisUrl).toBeUndefined();
    expect(config.overrides.size).toBe(0);
    expect(config.maxKeys).toBe(100_000);
    expect(config.ipv6Prefix).toBe(64);
  });

  it('takes RATE_LIMIT_MAX_KEYS and RATE_LIMIT_IPV6_PREFIX, which name no policy', () => {
    const config = loadSlice(rateLimitConfig, { RATE_LIMIT_MAX_KEYS: '5000', RATE_LIMIT_IPV6_PREFIX: '48' });
    expect(config.maxKeys).toBe(5_000);
    expect(config.ipv6Prefix).toBe(48);
    expect(config.overrides.size).toBe(0);
  });

  it.each([
    ['RATE_LIMIT_MAX_KEYS', '0'],
    ['RATE_LIMIT_MAX_KEYS', 'many'],
    ['RATE_LIMIT_IPV6_PREFIX', '8'],
    ['RATE_LIMIT_IPV6_PREFIX', '129'],
    ['RATE_LIMIT_IPV6_PREFIX', '/64'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(problemsOf({ [name]: value })).toEqual([expect.stringContaining(`${name} must be an integer`)]);
  });

  it('takes a redis: or rediss: REDIS_URL and refuses anything else, naming it', () => {
    expect(loadSlice(rateLimitConfig, { REDIS_URL: 'redis://127.0.0.1:6379' }).redisUrl).toBe(
      'redis://127.0.0.1:6379',
    );
    expect(loadSlice(rateLimitConfig, { REDIS_URL: 'rediss://cache.example:6380' }).redisUrl).toBe(
      'rediss://cache.example:6380',
    );
    expect(problemsOf({ REDIS_URL: 'http://x' })).toEqual([expect.stringContaining('REDIS_URL')]);
  });

  it('names each policy’s variable after the policy: RATE_LIMIT_ plus its name in upper snake case', () => {
    expect(POLICIES.map(rateLimitVariable)).toEqual([
      'RATE_LIMIT_ADMIN',
      'RATE_LIMIT_ORG_TOKEN_MINT',
      'RATE_LIMIT_PROVISION',
      'RATE_LIMIT_DEVELOPER_WRITE',
    ]);
  });

  it.each([
    ['300/60s', { limit: 300, windowSeconds: 60 }],
    ['10/1h', { limit: 10, windowSeconds: 3600 }],
    ['5/60', { limit: 5, windowSeconds: 60 }],
    ['20/10m', { limit: 20, windowSeconds: 600 }],
    ['1/7d', { limit: 1, windowSeconds: 7 * 86400 }],
    [' 7/1s ', { limit: 7, windowSeconds: 1 }],
  ])('overrides a policy with <limit>/<window>: %s', (value, expected) => {
    expect(overrides({ RATE_LIMIT_ORG_TOKEN_MINT: value })).toEqual({ 'org-token-mint': expected });
  });

  it('overrides several policies at once and leaves the others alone', () => {
    expect(overrides({ RATE_LIMIT_ADMIN: '600/60s', RATE_LIMIT_PROVISION: '120/1m' })).toEqual({
      admin: { limit: 600, windowSeconds: 60 },
      provision: { limit: 120, windowSeconds: 60 },
    });
  });

  it('ignores an empty variable', () => {
    expect(overrides({ RATE_LIMIT_ADMIN: '' })).toEqual({});
  });

  it('refuses a variable that names no policy, naming the variable and the known ones', () => {
    const problems = problemsOf({ RATE_LIMIT_ORG_TOKEN_MINTS: '10/1h' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('RATE_LIMIT_ORG_TOKEN_MINTS names no rate-limit policy');
    for (const policy of POLICIES) expect(problems[0]).toContain(rateLimitVariable(policy));
    expect(problems[0]).not.toContain('10/1h');
  });

  it.each([
    ['no window', '250'],
    ['a zero limit', '0/45s'],
    ['a negative limit', '-1/60s'],
    ['a zero window', '10/0s'],
    ['a window over 7 days', '10/8d'],
    ['an unknown unit', '10/1w'],
    ['words', 'ten-per-hour'],
    ['a fractional limit', '1.5/60s'],
    ['a secret-looking value', 's3cr3t-v4lue/60s'],
    ['an over-long limit', '1234567890/60s'],
  ])('refuses %s, naming the variable and never echoing the value', (_label, value) => {
    const problems = problemsOf({ RATE_LIMIT_ADMIN: value });
    expect(problems).toEqual([expect.stringContaining('RATE_LIMIT_ADMIN must be <limit>/<window>')]);
    expect(problems[0]).not.toContain(value.trim());
  });

  it('reports every bad override at once', () => {
    const problems = problemsOf({
      RATE_LIMIT_ADMIN: 'x',
      RATE_LIMIT_PROVISION: '0/1s',
      RATE_LIMIT_NOPE: '1/1s',
    });
    expect(problems).toHaveLength(3);
    for (const variable of ['RATE_LIMIT_ADMIN', 'RATE_LIMIT_PROVISION', 'RATE_LIMIT_NOPE'])
      expect(problems.some((p) => p.startsWith(variable))).toBe(true);
  });
});
