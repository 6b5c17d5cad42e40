import { isIP } from 'node:net';
import { defineConfig } from 'src/config/config-slice';
import type { EnvReader } from 'src/config/env-reader';
import { isInsecureRemoteUrl } from 'src/config/loopback';

export type TrustProxy = boolean | number | string | undefined;

/** The settings of the process itself: where it listens, its database, its logs, its public origin. */
export interface AppConfig {
  nodeEnv: string;
  isProduction: boolean;
  port: number;
  host: string;
  databaseUrl?: string;
  /**
   * DATABASE_LISTEN_URL: a direct (session-mode) connection for the revocation feed's LISTEN. Set, it also
   * says that DATABASE_URL goes through a transaction-mode pooler (decision 0103): the pool then uses unnamed
   * statements and sends no session startup parameters.
   */
  databaseListenUrl?: string;
  trustProxy: TrustProxy;
  logLevel: string;
  /** This service's public origin: provider redirects come back to it, and it is the `iss` of minted JWTs. */
  oauthCallbackOrigin: string;
  /**
   * SETTINGS_UI_ORIGIN: the settings UI's origins (a comma list; default: `oauthCallbackOrigin`). The one
   * source for every rule about the UI: the only windows the OAuth callback page hands its completion code
   * to, and the only origins CORS allows.
   */
  settingsUiOrigins: readonly string[];
  /** ALLOW_INSECURE_HTTP: production may use http:// URLs that are not loopback (the operator said so). */
  allowInsecureHttp: boolean;
  /**
   * REVOCATION_MAX_STALENESS_MS: how old a revocation a cached positive may miss (decision 0107). 0, the
   * default, is the contract's guarantee: a revocation committed before a request arrived always wins.
   */
  revocationMaxStalenessMs: number;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export const appConfig = defineConfig('app', (env: EnvReader): AppConfig => {
  const portRaw = env.str('PORT') ?? '3000';
  const port = Number(portRaw);
  if (!/^\d+$/.test(portRaw) || port > 65535) env.problem('PORT must be an integer between 0 and 65535');
  const host = env.str('HOST') ?? '127.0.0.1';

  const logLevel = (env.str('LOG_LEVEL') ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel)) env.problem(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  const callbackOrigin = origin('OAUTH_CALLBACK_ORIGIN', env.url('OAUTH_CALLBACK_ORIGIN'), env);
  if (env.isProduction && !callbackOrigin && env.str('OAUTH_CALLBACK_ORIGIN') === undefined) {
    env.problem('OAUTH_CALLBACK_ORIGIN is required in production');
  }

  const allowInsecureHttp = allowsInsecureHttp(env);
  if (env.isProduction && callbackOrigin && isInsecureRemoteUrl(callbackOrigin) && !allowInsecureHttp) {
    env.problem(insecureHttpProblem('OAUTH_CALLBACK_ORIGIN'));
  }

  const uiOrigins = settingsUiOrigins(env, allowInsecureHttp);

  const trustProxy = parseTrustProxy(env.str('TRUST_PROXY'));
  if (trustProxy === INVALID) env.problem(TRUST_PROXY_PROBLEM);
  if (env.isProduction && trustProxy === true && !env.bool('TRUST_PROXY_TRUE_IN_PRODUCTION', false)) {
    env.problem(
      'TRUST_PROXY=true trusts every X-Forwarded-For hop, so any client picks its own address and escapes every ' +
        'per-IP limit: in production set TRUST_PROXY to your proxies (their IPs or CIDRs, or loopback), or set ' +
        'TRUST_PROXY_TRUE_IN_PRODUCTION=true as well to allow it explicitly',
    );
  }

  const databaseListenUrl = env.url('DATABASE_LISTEN_URL', ['postgres:', 'postgresql:']);
  if (databaseListenUrl && env.str('DATABASE_URL') === undefined)
    env.problem('DATABASE_LISTEN_URL needs DATABASE_URL (the pooled connection it stands beside)');

  return {
    nodeEnv: env.nodeEnv,
    isProduction: env.isProduction,
    port,
    host,
    databaseUrl: env.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    databaseListenUrl,
    trustProxy: trustProxy === INVALID ? undefined : trustProxy,
    logLevel,
    oauthCallbackOrigin: callbackOrigin ?? `http://${host}:${port}`,
    settingsUiOrigins: uiOrigins ?? [callbackOrigin ?? `http://${host}:${port}`],
    allowInsecureHttp,
    revocationMaxStalenessMs: env.int('REVOCATION_MAX_STALENESS_MS', 0, 0, MAX_REVOCATION_STALENESS_MS),
  };
});

/** The largest REVOCATION_MAX_STALENESS_MS: well inside the feed's 2.5 s trust window. */
export const MAX_REVOCATION_STALENESS_MS = 1_000;

/** ALLOW_INSECURE_HTTP, read by every slice that checks a URL's scheme (a bad value is reported once). */
export function allowsInsecureHttp(env: EnvReader): boolean {
  return env.bool('ALLOW_INSECURE_HTTP', false);
}

/** The problem for an http:// URL to somewhere other than loopback in production. */
export function insecureHttpProblem(variable: string): string {
  return (
    `${variable} must use https in production (http is allowed for loopback only); ` +
    'set ALLOW_INSECURE_HTTP=true to allow clear-text http explicitly'
  );
}

/** The core settings' injection token (`@Inject(APP_CONFIG) config: AppConfig`). */
export const APP_CONFIG = appConfig.KEY;

/** `scheme://host[:port]` once trailing slashes are gone: no path, query, fragment or credentials. */
function origin(variable: string, value: string | undefined, env: EnvReader): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.replace(/\/+$/, '');
  const parsed = new URL(trimmed);
  if (parsed.origin !== trimmed) {
    env.problem(`${variable} must be an origin (scheme://host[:port], no path, query or credentials)`);
    return undefined;
  }
  return trimmed;
}

/**
 * SETTINGS_UI_ORIGIN: a comma list of origins, each as OAUTH_CALLBACK_ORIGIN is checked; undefined when
 * unset (the default is the callback origin). Required in production, where `http://` off loopback needs
 * ALLOW_INSECURE_HTTP like every other origin.
 */
function settingsUiOrigins(env: EnvReader, allowInsecureHttp: boolean): string[] | undefined {
  const name = 'SETTINGS_UI_ORIGIN';
  const entries = env.list(name);
  if (!entries?.length) {
    if (env.isProduction) env.problem(`${name} is required in production`);
    return undefined;
  }
  const origins: string[] = [];
  for (const entry of entries) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(entry);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      env.problem(`${name} must be a comma list of origins (http or https)`);
      return undefined;
    }
    const value = origin(name, entry, env);
    if (value === undefined) return undefined;
    if (env.isProduction && isInsecureRemoteUrl(value) && !allowInsecureHttp)
      env.problem(insecureHttpProblem(name));
    if (!origins.includes(value)) origins.push(value);
  }
  return origins;
}

const INVALID = Symbol('invalid');
const TRUST_PROXY_PROBLEM =
  'TRUST_PROXY must be true, false, a hop count, or a comma-separated list of IP addresses, CIDR ranges ' +
  'and loopback, linklocal or uniquelocal';
const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * The values `proxy-addr` compiles (the grammar Fastify's `trustProxy` and Express's `trust proxy` share),
 * checked here so that a typo stops the start with the variable named rather than an unnamed error later.
 */
function parseTrustProxy(value: string | undefined): TrustProxy | typeof INVALID {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  if (value === 'true') return true;
  if (value === 'false') return false;
  const entries = value.split(',').map((e) => e.trim());
  return entries.every(isTrustProxyEntry) ? value : INVALID;
}

function isTrustProxyEntry(entry: string): boolean {
  if (TRUST_PROXY_NAMES.has(entry)) return true;
  const [address = '', range, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length) return false;
  if (range === undefined) return true;
  const maxBits = family === 4 ? 32 : 128;
  if (/^\d+$/.test(range)) return Number(range) <= maxBits;
  // A netmask (IPv4 only), as proxy-addr accepts: contiguous ones.
  if (family !== 4 || isIP(range) !== 4) return false;
  const bits = range
    .split('.')
    .map((octet) => Number(octet).toString(2).padStart(8, '0'))
    .join('');
  return /^1*0*$/.test(bits);
}
