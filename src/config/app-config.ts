import { createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';

export type Env = Record<string, string | undefined>;

export interface BillingProviderConfig {
  slug: string;
  name: string;
  authUrl: string;
  apiBase: string;
  enabled: boolean;
}

export type TrustProxy = boolean | number | string | undefined;

export interface JwtIssuerConfig {
  jwksUri?: string;
  secret?: string;
  issuer?: string;
  audience?: string;
}

/** The validated configuration. Built once from the environment; nothing else reads `process.env`. */
export interface AppConfig {
  nodeEnv: string;
  isProduction: boolean;
  port: number;
  host: string;
  databaseUrl?: string;
  redisUrl?: string;
  trustProxy: TrustProxy;
  logLevel: string;
  adminToken?: string;
  adminBootstrapOpen: boolean;
  adminAuthAllowApiKeys: boolean;
  orgId?: string;
  session: JwtIssuerConfig;
  m2m: JwtIssuerConfig;
  provisionAllowedOrgIds?: string[];
  /** Raw master secrets; parsed by the crypto module when first needed. */
  encryptionKey?: string;
  encryptionKeys?: string;
  tokenSigningKey?: string;
  billingProviders: BillingProviderConfig[];
  oauthCallbackOrigin: string;
}

export const APP_CONFIG = Symbol('APP_CONFIG');

export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigValidationError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const MIN_SECRET_LENGTH = 32;
const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Parses and validates the environment. Problems name the variable and never echo its value, because
 * several of these variables are secrets.
 */
export function loadAppConfig(env: Env): AppConfig {
  const problems: string[] = [];
  const str = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const v = str(name);
    if (v === undefined) return fallback;
    if (/^(true|1|yes)$/i.test(v)) return true;
    if (/^(false|0|no)$/i.test(v)) return false;
    problems.push(`${name} must be true or false`);
    return fallback;
  };
  const url = (name: string, protocols = ['http:', 'https:']): string | undefined => {
    const v = str(name);
    if (v === undefined) return undefined;
    if (!isUrl(v, protocols)) {
      problems.push(`${name} must be a URL (${protocols.join(' or ')})`);
      return undefined;
    }
    return v;
  };
  /** `enforce`: whether the minimum length applies here (some secrets need it only in production). */
  const secret = (name: string, enforce: boolean, where = ' in production'): string | undefined => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    if (enforce && v.length < MIN_SECRET_LENGTH) {
      problems.push(`${name} must be at least ${MIN_SECRET_LENGTH} characters${where}`);
    }
    return v;
  };

  const nodeEnv = str('NODE_ENV') ?? 'development';
  const isProduction = nodeEnv === 'production';

  const portRaw = str('PORT') ?? '3000';
  const port = Number(portRaw);
  if (!/^\d+$/.test(portRaw) || port > 65535) problems.push('PORT must be an integer between 0 and 65535');
  const host = str('HOST') ?? '127.0.0.1';

  const logLevel = (str('LOG_LEVEL') ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  const session: JwtIssuerConfig = {
    jwksUri: url('AUTH_SESSION_JWKS_URI'),
    secret: secret('AUTH_SESSION_SECRET', true, ''),
    issuer: str('AUTH_SESSION_ISSUER'),
    audience: str('AUTH_SESSION_AUDIENCE'),
  };
  if (session.jwksUri && session.secret) {
    problems.push('AUTH_SESSION_JWKS_URI and AUTH_SESSION_SECRET are exclusive: set one');
  }
  const m2m: JwtIssuerConfig = {
    jwksUri: url('AUTH_M2M_JWKS_URI'),
    issuer: str('AUTH_M2M_ISSUER'),
    audience: str('AUTH_M2M_AUDIENCE'),
  };
  // Issuer and audience are what keep a machine token from passing as a person's session; a `gty` claim is
  // only a hint some issuers set.
  if (isProduction && (session.jwksUri || session.secret)) {
    const missing = ['AUTH_SESSION_ISSUER', 'AUTH_SESSION_AUDIENCE'].filter(
      (name) => str(name) === undefined,
    );
    if (missing.length) {
      problems.push(`${missing.join(' and ')} must be set in production when the session tier is on`);
    }
  }
  // The same holds for machine tokens: without them pinned, any token the JWKS signs would pass.
  if (isProduction && m2m.jwksUri) {
    const missing = ['AUTH_M2M_ISSUER', 'AUTH_M2M_AUDIENCE'].filter((name) => str(name) === undefined);
    if (missing.length) {
      problems.push(`${missing.join(' and ')} must be set in production when the M2M tier is on`);
    }
  }
  if (session.audience && m2m.audience && session.audience === m2m.audience) {
    problems.push(
      'AUTH_SESSION_AUDIENCE and AUTH_M2M_AUDIENCE must differ: one audience would let M2M tokens pass as sessions',
    );
  }

  const allowedOrgs = str('PROVISION_ALLOWED_ORG_IDS');
  const provisionAllowedOrgIds = allowedOrgs
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

  const encryptionKey = secret('ENCRYPTION_KEY', isProduction);
  const encryptionKeys = str('ENCRYPTION_KEYS');
  if (encryptionKeys && !/^\s*\d+:[^,]+(\s*,\s*\d+:[^,]+)*\s*$/.test(encryptionKeys)) {
    problems.push('ENCRYPTION_KEYS must look like "<version>:<secret>,<version>:<secret>"');
  } else if (encryptionKeys) {
    const versions = encryptionKeys.split(',').map((entry) => Number(entry.trim().split(':')[0]));
    if (
      versions.some((v) => !Number.isSafeInteger(v) || v < 1) ||
      new Set(versions).size !== versions.length
    ) {
      problems.push('ENCRYPTION_KEYS versions must be distinct positive integers');
    }
  }
  if (encryptionKey && encryptionKeys) {
    problems.push('ENCRYPTION_KEY and ENCRYPTION_KEYS are exclusive: set one');
  }

  const tokenSigningKey = env.TOKEN_SIGNING_KEY?.trim() || undefined;
  if (tokenSigningKey && !isPrivateKey(tokenSigningKey)) {
    problems.push('TOKEN_SIGNING_KEY must be a private key as PEM or JWK (RSA or EC)');
  }
  // The development key lives unencrypted in the database: production signs with a configured key only.
  if (isProduction && !tokenSigningKey) problems.push('TOKEN_SIGNING_KEY is required in production');

  const billingProviders = parseBillingProviders(str('BILLING_PROVIDERS'), problems);

  const callbackOrigin = origin(url('OAUTH_CALLBACK_ORIGIN'), problems);
  if (isProduction && !callbackOrigin && str('OAUTH_CALLBACK_ORIGIN') === undefined) {
    problems.push('OAUTH_CALLBACK_ORIGIN is required in production');
  }

  const trustProxy = parseTrustProxy(str('TRUST_PROXY'));
  if (trustProxy === INVALID) problems.push(TRUST_PROXY_PROBLEM);

  const config: AppConfig = {
    nodeEnv,
    isProduction,
    port,
    host,
    databaseUrl: url('DATABASE_URL', ['postgres:', 'postgresql:']),
    redisUrl: url('REDIS_URL', ['redis:', 'rediss:']),
    trustProxy: trustProxy === INVALID ? undefined : trustProxy,
    logLevel,
    adminToken: secret('ADMIN_TOKEN', isProduction),
    adminBootstrapOpen: bool('ADMIN_BOOTSTRAP_OPEN', !isProduction),
    adminAuthAllowApiKeys: bool('ADMIN_AUTH_ALLOW_API_KEYS', false),
    orgId: str('ORG_ID'),
    session,
    m2m,
    provisionAllowedOrgIds,
    encryptionKey,
    encryptionKeys,
    tokenSigningKey,
    billingProviders,
    oauthCallbackOrigin: callbackOrigin ?? `http://${host}:${port}`,
  };
  if (problems.length) throw new ConfigValidationError(problems);
  return config;
}

function isUrl(value: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

function isPrivateKey(value: string): boolean {
  try {
    if (value.startsWith('{')) createPrivateKey({ key: JSON.parse(value) as object, format: 'jwk' } as never);
    else createPrivateKey(value);
    return true;
  } catch {
    return false;
  }
}

/** `scheme://host[:port]` once trailing slashes are gone: no path, query, fragment or credentials. */
function origin(value: string | undefined, problems: string[]): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.replace(/\/+$/, '');
  const parsed = new URL(trimmed);
  if (parsed.origin !== trimmed) {
    problems.push(
      'OAUTH_CALLBACK_ORIGIN must be an origin (scheme://host[:port], no path, query or credentials)',
    );
    return undefined;
  }
  return trimmed;
}

const INVALID = Symbol('invalid');
const TRUST_PROXY_PROBLEM =
  'TRUST_PROXY must be true, false, a hop count, or a comma-separated list of IP addresses, CIDR ranges ' +
  'and loopback, linklocal or uniquelocal';
const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * The values Express's `trust proxy` accepts (what `proxy-addr` compiles), checked here so that a typo stops
 * the start with the variable named rather than an unnamed error from Express later.
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

function parseBillingProviders(raw: string | undefined, problems: string[]): BillingProviderConfig[] {
  if (raw === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    problems.push('BILLING_PROVIDERS must be a JSON array');
    return [];
  }
  if (!Array.isArray(parsed)) {
    problems.push('BILLING_PROVIDERS must be a JSON array');
    return [];
  }
  const providers: BillingProviderConfig[] = [];
  const seen = new Set<string>();
  parsed.forEach((entry: unknown, i) => {
    const where = `BILLING_PROVIDERS[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${where} must be an object`);
      return;
    }
    const e = entry as Record<string, unknown>;
    const unknownKeys = Object.keys(e).filter(
      (k) => !['slug', 'name', 'authUrl', 'apiBase', 'enabled'].includes(k),
    );
    if (unknownKeys.length) problems.push(`${where} has unknown fields: ${unknownKeys.join(', ')}`);
    const { slug, name, authUrl, apiBase, enabled } = e;
    if (typeof slug !== 'string' || !SLUG.test(slug))
      problems.push(`${where}.slug must match ${SLUG.source}`);
    else if (seen.has(slug)) problems.push(`${where}.slug duplicates another entry`);
    if (typeof name !== 'string' || name.trim().length === 0 || name.length > 100) {
      problems.push(`${where}.name must be a string of 1 to 100 characters`);
    }
    if (typeof authUrl !== 'string' || !isUrl(authUrl, ['http:', 'https:']))
      problems.push(`${where}.authUrl must be a URL`);
    if (typeof apiBase !== 'string' || !isUrl(apiBase, ['http:', 'https:']))
      problems.push(`${where}.apiBase must be a URL`);
    if (enabled !== undefined && typeof enabled !== 'boolean')
      problems.push(`${where}.enabled must be a boolean`);
    if (typeof slug === 'string') seen.add(slug);
    providers.push({
      slug: String(slug),
      name: String(name).trim(),
      authUrl: String(authUrl),
      apiBase: String(apiBase).replace(/\/+$/, ''),
      enabled: enabled !== false,
    });
  });
  return providers;
}
