import { defineConfig } from 'src/config/config-slice';
import type { EnvReader } from 'src/config/env-reader';

export interface JwtIssuerConfig {
  jwksUri?: string;
  secret?: string;
  issuer?: string;
  audience?: string;
}

/** Who may call: the AdminAuth tiers' settings and the two JWT issuers (sessions, internal services). */
export interface AuthConfig {
  adminToken?: string;
  adminBootstrapOpen: boolean;
  adminAuthAllowApiKeys: boolean;
  orgId?: string;
  session: JwtIssuerConfig;
  m2m: JwtIssuerConfig;
}

export const authConfig = defineConfig('auth', (env: EnvReader): AuthConfig => {
  const session: JwtIssuerConfig = {
    jwksUri: env.url('AUTH_SESSION_JWKS_URI'),
    secret: env.secret('AUTH_SESSION_SECRET', true, ''),
    issuer: env.str('AUTH_SESSION_ISSUER'),
    audience: env.str('AUTH_SESSION_AUDIENCE'),
  };
  if (session.jwksUri && session.secret) {
    env.problem('AUTH_SESSION_JWKS_URI and AUTH_SESSION_SECRET are exclusive: set one');
  }
  const m2m: JwtIssuerConfig = {
    jwksUri: env.url('AUTH_M2M_JWKS_URI'),
    issuer: env.str('AUTH_M2M_ISSUER'),
    audience: env.str('AUTH_M2M_AUDIENCE'),
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
  if (session.audience && m2m.audience && session.audience === m2m.audience) {
    env.problem(
      'AUTH_SESSION_AUDIENCE and AUTH_M2M_AUDIENCE must differ: one audience would let M2M tokens pass as sessions',
    );
  }
  const adminAuthAllowApiKeys = env.bool('ADMIN_AUTH_ALLOW_API_KEYS', false);
  // The deprecated API-key admin tier is for development only (issue 12, item 3; decision 0050).
  if (env.isProduction && adminAuthAllowApiKeys) {
    env.problem('ADMIN_AUTH_ALLOW_API_KEYS=true is refused in production: use org tokens or ADMIN_TOKEN');
  }
  return {
    adminToken: env.secret('ADMIN_TOKEN', env.isProduction),
    adminBootstrapOpen: env.bool('ADMIN_BOOTSTRAP_OPEN', !env.isProduction),
    adminAuthAllowApiKeys,
    orgId: env.str('ORG_ID'),
    session,
    m2m,
  };
});

function requireAll(env: EnvReader, names: string[], when: string): void {
  const missing = names.filter((name) => env.str(name) === undefined);
  if (missing.length) env.problem(`${missing.join(' and ')} must be set in production when ${when}`);
}
