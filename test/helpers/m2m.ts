import request from 'supertest';
import type { Server } from 'node:http';
import type { TestIssuer } from 'test/helpers/issuer';

export const M2M_AUDIENCE = 'keysmith-internal';
export const SESSION_AUDIENCE = 'keysmith-ui';
export const ALLOWED_ORG = 'org-allowed';

/** A client-credentials token as an authorization server issues it. */
export function m2mToken(
  issuer: TestIssuer,
  clientId: string,
  scope: string | { scp?: string[]; permissions?: string[] },
  options: { expiresIn?: number } = {},
): Promise<string> {
  const scopes = typeof scope === 'string' ? { scope } : scope;
  return issuer.token(
    { sub: `${clientId}@clients`, azp: clientId, gty: 'client-credentials', ...scopes },
    options,
  );
}

/** Env for an app with the M2M tier (and the session tier, on another issuer) configured. */
export function internalEnv(m2m: TestIssuer, session: TestIssuer): Record<string, string> {
  return {
    AUTH_M2M_JWKS_URI: m2m.jwksUri,
    AUTH_M2M_ISSUER: m2m.url,
    AUTH_M2M_AUDIENCE: m2m.audience,
    AUTH_SESSION_JWKS_URI: session.jwksUri,
    AUTH_SESSION_ISSUER: session.url,
    AUTH_SESSION_AUDIENCE: session.audience,
    PROVISION_ALLOWED_ORG_IDS: `${ALLOWED_ORG},org-other`,
  };
}

export interface Provisioned {
  apiKey: string;
  userId: string;
  projectId: string;
  keyId: string;
}

/** Provisions a key through the real endpoint. */
export async function provision(
  http: Server,
  token: string,
  body: { externalId: string; email?: string; name?: string; keyName?: string; orgId?: string },
): Promise<Provisioned> {
  const res = await request(http)
    .post('/api/v1/internal/provision-apikey')
    .set('authorization', `Bearer ${token}`)
    .send({ email: `${body.externalId.replace(/\W/g, '')}@example.com`, orgId: ALLOWED_ORG, ...body });
  if (res.status !== 200) throw new Error(`provision failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Provisioned;
}

export function resolveKey(http: Server, token: string, key: unknown): request.Test {
  return request(http)
    .post('/api/v1/internal/api-keys/resolve')
    .set('authorization', `Bearer ${token}`)
    .send({ key });
}

/** Polls `condition` (state, not time) until it holds; fails after `attempts`. */
export async function eventually(condition: () => boolean | Promise<boolean>, attempts = 200): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition never held');
}
