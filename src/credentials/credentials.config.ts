import { defineConfig } from 'src/config/config-slice';
import type { EnvReader } from 'src/config/env-reader';
import { normalizeHost } from 'src/http/outbound-address';

export interface CredentialsConfig {
  /**
   * CREDENTIALS_ALLOWED_TOKEN_HOSTS: host names or IP addresses (as a URL spells its host, lowercase) that
   * token refreshes may reach whatever address they resolve to. An operator's exception, for a token
   * endpoint inside the private network.
   */
  allowedTokenHosts: ReadonlySet<string>;
  /** CREDENTIALS_REQUIRE_HTTPS: only `https` token endpoints. Always on in production. */
  requireHttps: boolean;
  /**
   * CREDENTIALS_ALLOW_LOOPBACK: loopback addresses may be called (a token server on the developer's
   * machine, the test suite's). Never in production: name such a host in CREDENTIALS_ALLOWED_TOKEN_HOSTS.
   */
  allowLoopback: boolean;
  /**
   * CREDENTIALS_REFRESH_TIMEOUT_MS: the whole refresh exchange (resolve, connect, TLS, answer) is abandoned
   * after this long. It also bounds how long a database connection and the credential's row lock are held.
   */
  refreshTimeoutMs: number;
  /**
   * CREDENTIALS_MAX_CONCURRENT_REFRESHES: refreshes one instance runs at once (each holds a database
   * connection while it waits for the token endpoint). A refresh that finds no free slot is answered 503 at
   * once: it never queues behind another user's refreshes.
   */
  maxConcurrentRefreshes: number;
  /** CREDENTIALS_MAX_REFRESHES_PER_USER: of those, how many may be one user's at once. */
  maxRefreshesPerUser: number;
  /** CREDENTIALS_MAX_REFRESHES_PER_HOST: of those, how many may go to one token-endpoint host at once. */
  maxRefreshesPerHost: number;
  /**
   * CREDENTIALS_FAILURES_BEFORE_BACKOFF: after this many consecutive upstream failures of a credential, its
   * refreshes are not tried until a backoff (doubling from 30 s, at most 10 min) ends.
   */
  failuresBeforeBackoff: number;
}

export const DEFAULT_REFRESH_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_CONCURRENT_REFRESHES = 10;
export const DEFAULT_MAX_REFRESHES_PER_USER = 2;
export const DEFAULT_MAX_REFRESHES_PER_HOST = 5;
export const DEFAULT_FAILURES_BEFORE_BACKOFF = 3;

export const credentialsConfig = defineConfig('credentials', (env): CredentialsConfig => {
  const requireHttps = env.bool('CREDENTIALS_REQUIRE_HTTPS', env.isProduction);
  if (env.isProduction && !requireHttps)
    env.problem('CREDENTIALS_REQUIRE_HTTPS cannot be turned off in production');
  const allowLoopback = env.bool('CREDENTIALS_ALLOW_LOOPBACK', !env.isProduction);
  if (env.isProduction && allowLoopback)
    env.problem(
      'CREDENTIALS_ALLOW_LOOPBACK cannot be turned on in production (name the hosts in CREDENTIALS_ALLOWED_TOKEN_HOSTS)',
    );
  return {
    allowedTokenHosts: new Set(parseHosts(env)),
    requireHttps,
    allowLoopback,
    refreshTimeoutMs: integer(env, 'CREDENTIALS_REFRESH_TIMEOUT_MS', DEFAULT_REFRESH_TIMEOUT_MS, 100, 60_000),
    maxConcurrentRefreshes: integer(
      env,
      'CREDENTIALS_MAX_CONCURRENT_REFRESHES',
      DEFAULT_MAX_CONCURRENT_REFRESHES,
      1,
      100,
    ),
    maxRefreshesPerUser: integer(
      env,
      'CREDENTIALS_MAX_REFRESHES_PER_USER',
      DEFAULT_MAX_REFRESHES_PER_USER,
      1,
      100,
    ),
    maxRefreshesPerHost: integer(
      env,
      'CREDENTIALS_MAX_REFRESHES_PER_HOST',
      DEFAULT_MAX_REFRESHES_PER_HOST,
      1,
      100,
    ),
    failuresBeforeBackoff: integer(
      env,
      'CREDENTIALS_FAILURES_BEFORE_BACKOFF',
      DEFAULT_FAILURES_BEFORE_BACKOFF,
      1,
      1000,
    ),
  };
});

function integer(env: EnvReader, name: string, fallback: number, min: number, max: number): number {
  const raw = env.str(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    env.problem(`${name} must be an integer from ${min} to ${max}`);
    return fallback;
  }
  return n;
}

function parseHosts(env: EnvReader): string[] {
  const hosts: string[] = [];
  (env.list('CREDENTIALS_ALLOWED_TOKEN_HOSTS') ?? []).forEach((entry, i) => {
    const host = normalizeHost(entry);
    if (host === undefined)
      env.problem(
        `CREDENTIALS_ALLOWED_TOKEN_HOSTS[${i}] must be a host name or an IP address (no scheme or port)`,
      );
    else hosts.push(host);
  });
  return hosts;
}
