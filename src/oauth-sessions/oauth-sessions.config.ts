import { defineConfig } from 'src/config/config-slice';
import type { EnvReader } from 'src/config/env-reader';

export interface OAuthSessionsConfig {
  /** OAUTH_SESSION_TTL_SECONDS: how long a started login may take, callback and redemption included. */
  ttlSeconds: number;
  /** OAUTH_EXCHANGE_TIMEOUT_MS: the whole token-for-key exchange with the provider, body included. */
  exchangeTimeoutMs: number;
  /** OAUTH_POLL_INTERVAL_SECONDS: the `pollIntervalSeconds` a start suggests. */
  pollIntervalSeconds: number;
  /** OAUTH_SESSION_PURGE_INTERVAL_SECONDS: how often each instance tries the purge. */
  purgeIntervalSeconds: number;
  /**
   * OAUTH_SESSION_RETENTION_SECONDS: how long a session row outlives its expiry, so a late poll still reads
   * `expired`/`redeemed`/`failed` rather than 404. Its key is gone long before (redeemed or expired).
   */
  retentionSeconds: number;
  /**
   * OAUTH_EXCHANGE_ALLOWED_HOSTS: provider API hosts (as a URL spells its host, lowercase) that the exchange
   * may reach whatever address they resolve to: an operator's exception for a provider inside the private
   * network. Every other host must resolve to public addresses (loopback too outside production).
   */
  exchangeAllowedHosts: ReadonlySet<string>;
  /** Loopback providers may be called: outside production only (a provider on the developer's machine). */
  exchangeAllowLoopback: boolean;
}

export const OAUTH_SESSION_DEFAULTS: OAuthSessionsConfig = {
  ttlSeconds: 600,
  exchangeTimeoutMs: 10_000,
  pollIntervalSeconds: 2,
  purgeIntervalSeconds: 300,
  retentionSeconds: 3600,
  exchangeAllowedHosts: new Set(),
  exchangeAllowLoopback: true,
};

export const oauthSessionsConfig = defineConfig('oauth-sessions', (env): OAuthSessionsConfig => ({
  ttlSeconds: integer(env, 'OAUTH_SESSION_TTL_SECONDS', OAUTH_SESSION_DEFAULTS.ttlSeconds, 1, 3600),
  exchangeTimeoutMs: integer(
    env,
    'OAUTH_EXCHANGE_TIMEOUT_MS',
    OAUTH_SESSION_DEFAULTS.exchangeTimeoutMs,
    1,
    60_000,
  ),
  pollIntervalSeconds: integer(
    env,
    'OAUTH_POLL_INTERVAL_SECONDS',
    OAUTH_SESSION_DEFAULTS.pollIntervalSeconds,
    1,
    60,
  ),
  purgeIntervalSeconds: integer(
    env,
    'OAUTH_SESSION_PURGE_INTERVAL_SECONDS',
    OAUTH_SESSION_DEFAULTS.purgeIntervalSeconds,
    1,
    86_400,
  ),
  retentionSeconds: integer(
    env,
    'OAUTH_SESSION_RETENTION_SECONDS',
    OAUTH_SESSION_DEFAULTS.retentionSeconds,
    0,
    30 * 86_400,
  ),
  exchangeAllowedHosts: new Set((env.list('OAUTH_EXCHANGE_ALLOWED_HOSTS') ?? []).map((h) => h.toLowerCase())),
  exchangeAllowLoopback: !env.isProduction,
}));

/** A whole number in [min, max], or the default when unset; a problem naming the variable otherwise. */
function integer(env: EnvReader, name: string, fallback: number, min: number, max: number): number {
  const raw = env.str(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    env.problem(`${name} must be an integer from ${min} to ${max}`);
    return fallback;
  }
  return value;
}
