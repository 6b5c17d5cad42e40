import { allowsInsecureHttp, insecureHttpProblem } from 'src/config/app-config';
import { defineConfig } from 'src/config/config-slice';
import type { EnvReader } from 'src/config/env-reader';
import { isInsecureRemoteUrl } from 'src/config/loopback';

export interface JwtIssuerConfig {
  jwksUri?: string;
  secret?: string;
  issuer?: string;
  /**
   * The `aud` values accepted (a token passes when any of its `aud` entries is one of them); empty: not
   * checked. Sessions have at most one (AUTH_SESSION_AUDIENCE); AUTH_M2M_AUDIENCE is a comma list.
   */
  audiences: readonly string[];
  /** AUTH_JWKS_REFETCH_INTERVAL_SECONDS: how long unknown kids wait after a fetch spent on junk, or failed. */
  jwksRefetchIntervalSeconds: number;
  /** AUTH_<TIER>_MAX_TOKEN_LIFETIME_SECONDS: `exp - iat` (or `exp - now` without `iat`) at most this. */
  maxTokenLifetimeSeconds: number;
}

/** The M2M issuer, and the clients trusted by name where a token's shape cannot tell (AUTH_M2M_CLIENT_IDS). */
export interface M2MIssuerConfig extends JwtIssuerConfig {
  trustedClientIds: readonly string[];
}

/** The default of AUTH_JWKS_REFETCH_INTERVAL_SECONDS: junk costs at most one JWKS fetch per this long. */
export const DEFAULT_JWKS_REFETCH_INTERVAL_SECONDS = 5;

/** The default of AUTH_SESSION_MAX_TOKEN_LIFETIME_SECONDS and AUTH_M2M_MAX_TOKEN_LIFETIME_SECONDS: a day. */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 86_400;
const MAX_TOKEN_LIFETIME_LIMIT_SECONDS = 365 * 86_400;

/** Who may call: the AdminAuth tiers' settings and the two JWT issuers (sessions, internal services). */
export interface AuthConfig {
  adminToken?: string;
  adminBootstrapOpen: boolean;
  /** ADMIN_BOOTSTRAP_ORIGINS: web origins whose pages may use an open bootstrap from any machine. */
  adminBootstrapOrigins: string[];
  adminAuthAllowApiKeys: boolean;
  orgId?: string;
  /** ADMIN_SESSIONS_ANY_USER: the explicit opt-in for "every valid session is an org admin" (ORG_ID unset). */
  adminSessionsAnyUser: boolean;
  session: JwtIssuerConfig;
  m2m: M2MIssuerConfig;
  /**
   * AUTH_DEVELOPMENT_ISSUER: both tiers trust the development issuer (decision 0045) instead of `session` and
   * `m2m`. On by default outside production when no AUTH_SESSION_* or AUTH_M2M_* variable is set; never in
   * production.
   */
  developmentIssuer: boolean;
  /** METRICS_TOKEN: the bearer token /metrics requires; unset, /metrics is public. */
  metricsToken?: string;
  isProduction: boolean;
}

export const authConfig = defineConfig('auth', (env: EnvReader): AuthConfig => {
  const jwksRefetchIntervalSeconds = env.int(
    'AUTH_JWKS_REFETCH_INTERVAL_SECONDS',
    DEFAULT_JWKS_REFETCH_INTERVAL_SECONDS,
    1,
    300,
  );
  const session: JwtIssuerConfig = {
    jwksUri: env.url('AUTH_SESSION_JWKS_URI'),
    secret: env.secret('AUTH_SESSION_SECRET', true, ''),
    issuer: env.str('AUTH_SESSION_ISSUER'),
    audiences: oneOrNone(env.str('AUTH_SESSION_AUDIENCE')),
    jwksRefetchIntervalSeconds,
    maxTokenLifetimeSeconds: maxLifetime(env, 'AUTH_SESSION_MAX_TOKEN_LIFETIME_SECONDS'),
  };
  if (session.jwksUri && session.secret) {
    env.problem('AUTH_SESSION_JWKS_URI and AUTH_SESSION_SECRET are exclusive: set one');
  }
  const m2m: M2MIssuerConfig = {
    jwksUri: env.url('AUTH_M2M_JWKS_URI'),
    issuer: env.str('AUTH_M2M_ISSUER'),
    // Several, so that a resource-indicator audience (RFC 8707) can be added next to an older one.
    audiences: env.list('AUTH_M2M_AUDIENCE') ?? [],
    jwksRefetchIntervalSeconds,
    maxTokenLifetimeSeconds: maxLifetime(env, 'AUTH_M2M_MAX_TOKEN_LIFETIME_SECONDS'),
    trustedClientIds: clientIds(env, 'AUTH_M2M_CLIENT_IDS'),
  };
  // Issuer and audience are what keep a machine token from passing as a person's session; a `gty` claim is
  // only a hint some issuers set.
  if (env.isProduction && (session.jwksUri || session.secret)) {
    requireAll(env, ['AUTH_SESSION_ISSUER', 'AUTH_SESSION_AUDIENCE'], 'the session tier is on');
  }
  // The same holds for machine tokens: without them pinned, any token the JWKS signs would pass.
  if (env.isProduction && m2m.jwksUri) {
    requireAll(env, ['AUTH_M2M_ISSUER', 'AUTH_M2M_AUDIENCE'], 'the M2M tier is on');
  }
  if (session.audiences.some((audience) => m2m.audiences.includes(audience))) {
    env.problem(
      'AUTH_SESSION_AUDIENCE and AUTH_M2M_AUDIENCE must differ: one audience would let M2M tokens pass as sessions',
    );
  }
  // Keys fetched in clear text from across a network could be swapped for an attacker's.
  if (env.isProduction && !allowsInsecureHttp(env)) {
    for (const [variable, uri] of [
      ['AUTH_SESSION_JWKS_URI', session.jwksUri],
      ['AUTH_M2M_JWKS_URI', m2m.jwksUri],
    ] as const) {
      if (uri !== undefined && isInsecureRemoteUrl(uri)) env.problem(insecureHttpProblem(variable));
    }
  }
  const developmentIssuer = developmentIssuerOn(env);
  const adminBootstrapOpen = env.bool('ADMIN_BOOTSTRAP_OPEN', !env.isProduction);
  if (env.isProduction && adminBootstrapOpen && !env.bool('ADMIN_BOOTSTRAP_OPEN_IN_PRODUCTION', false)) {
    env.problem(
      'ADMIN_BOOTSTRAP_OPEN=true lets anyone mint the first org token: in production set ' +
        'ADMIN_BOOTSTRAP_OPEN_IN_PRODUCTION=true as well to allow it explicitly',
    );
  }
  // With ORG_ID unset every valid session is an org admin: production requires saying so explicitly.
  const orgId = env.str('ORG_ID');
  const adminSessionsAnyUser = env.bool('ADMIN_SESSIONS_ANY_USER', false);
  if (orgId !== undefined && adminSessionsAnyUser) {
    env.problem(
      'ORG_ID and ADMIN_SESSIONS_ANY_USER=true are exclusive: set ORG_ID to make only that org’s sessions admins, or ADMIN_SESSIONS_ANY_USER=true (without ORG_ID) to make every session one',
    );
  }
  if (
    env.isProduction &&
    (session.jwksUri || session.secret) &&
    orgId === undefined &&
    !adminSessionsAnyUser
  ) {
    env.problem(
      'ORG_ID must be set in production when the session tier is on (otherwise every valid session is an org admin); set ADMIN_SESSIONS_ANY_USER=true to allow that explicitly',
    );
  }
  const adminAuthAllowApiKeys = env.bool('ADMIN_AUTH_ALLOW_API_KEYS', false);
  // The deprecated API-key admin tier is for development only (issue 12, item 3; decision 0050).
  if (env.isProduction && adminAuthAllowApiKeys) {
    env.problem('ADMIN_AUTH_ALLOW_API_KEYS=true is refused in production: use org tokens or ADMIN_TOKEN');
  }
  return {
    adminToken: env.secret('ADMIN_TOKEN', env.isProduction),
    adminBootstrapOpen,
    adminBootstrapOrigins: origins(env, 'ADMIN_BOOTSTRAP_ORIGINS'),
    adminAuthAllowApiKeys,
    orgId,
    adminSessionsAnyUser,
    session,
    m2m,
    developmentIssuer,
    metricsToken: env.secret('METRICS_TOKEN', env.isProduction),
    isProduction: env.isProduction,
  };
});

/** The variables that configure a real issuer: any of them set, the development issuer is not trusted. */
const REAL_ISSUER_PREFIXES = ['AUTH_SESSION_', 'AUTH_M2M_'];
const REAL_ISSUER_VARIABLES =
  'AUTH_SESSION_JWKS_URI (or AUTH_SESSION_SECRET), AUTH_SESSION_ISSUER and AUTH_SESSION_AUDIENCE for sessions, ' +
  'AUTH_M2M_JWKS_URI, AUTH_M2M_ISSUER and AUTH_M2M_AUDIENCE for internal services';

/**
 * Whether both tiers trust the development issuer: by default, outside production with no real issuer
 * variable set. Production never trusts it, and asking for it there (or next to a real issuer) is refused.
 */
function developmentIssuerOn(env: EnvReader): boolean {
  const realIssuer = REAL_ISSUER_PREFIXES.some((prefix) => env.names(prefix).length > 0);
  const wanted = env.bool('AUTH_DEVELOPMENT_ISSUER', !env.isProduction && !realIssuer);
  if (!wanted) return false;
  if (env.isProduction) {
    env.problem(
      `AUTH_DEVELOPMENT_ISSUER=true is refused in production: its keys sit unencrypted in the database. Set ${REAL_ISSUER_VARIABLES}`,
    );
    return false;
  }
  if (realIssuer) {
    env.problem(
      'AUTH_DEVELOPMENT_ISSUER=true is refused next to a real issuer (AUTH_SESSION_* or AUTH_M2M_* set): an instance with a real issuer never trusts the development one',
    );
    return false;
  }
  return true;
}

function oneOrNone(value: string | undefined): string[] {
  return value === undefined ? [] : [value];
}

function maxLifetime(env: EnvReader, name: string): number {
  return env.int(name, DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, 60, MAX_TOKEN_LIFETIME_LIMIT_SECONDS);
}

/** A comma list of web origins (`scheme://host[:port]`, http or https, nothing after). */
function origins(env: EnvReader, name: string): string[] {
  const entries = env.list(name) ?? [];
  const parsed = entries.map((entry) => {
    try {
      const url = new URL(entry);
      return ['http:', 'https:'].includes(url.protocol) &&
        url.origin === entry.replace(/\/+$/, '').toLowerCase()
        ? url.origin
        : undefined;
    } catch {
      return undefined;
    }
  });
  if (parsed.some((origin) => origin === undefined)) {
    env.problem(`${name} must be a comma-separated list of origins (http(s)://host[:port], no path)`);
    return [];
  }
  return parsed as string[];
}

/** A comma list of client ids: each at most 255 characters, without spaces. */
function clientIds(env: EnvReader, name: string): string[] {
  const ids = env.list(name) ?? [];
  if (ids.some((id) => id.length > 255 || /\s/.test(id))) {
    env.problem(
      `${name} must be a comma-separated list of client ids (no spaces, at most 255 characters each)`,
    );
    return [];
  }
  return ids;
}

function requireAll(env: EnvReader, names: string[], when: string): void {
  const missing = names.filter((name) => env.str(name) === undefined);
  if (missing.length) env.problem(`${missing.join(' and ')} must be set in production when ${when}`);
}
