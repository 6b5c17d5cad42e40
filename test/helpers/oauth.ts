import type { Server } from 'node:http';
import request from 'supertest';
import { sessionEnv, type TestIssuer } from 'test/helpers/issuers';

/** A master secret for the suites' encryption (ENCRYPTION_KEY). */
export const TEST_ENCRYPTION_KEY = 'oauth-suite-master-secret-0123456789abcdef';

/**
 * Env for an app that runs the provider handoff: the session tier on `issuer`, an encryption key, and
 * `providers` as BILLING_PROVIDERS. The start limit is lifted (suites that test it set their own).
 */
export function oauthEnv(issuer: TestIssuer, providers: Record<string, unknown>[]): Record<string, string> {
  return {
    ...sessionEnv(issuer),
    ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
    BILLING_PROVIDERS: JSON.stringify(providers),
    RATE_LIMIT_OAUTH_START: '10000/60s',
  };
}

export interface StartedLogin {
  loginSessionId: string;
  authUrl: string;
  expiresAt: string;
  pollIntervalSeconds: number;
}

export const startPath = (slug: string): string => `/api/v1/auth/providers/${slug}/start`;
export const resultPath = (slug: string, id: string): string =>
  `/api/v1/auth/providers/${slug}/result?loginSessionId=${encodeURIComponent(id)}`;

/** Starts a login as `bearer` (an authorization header value); asserts the 201. */
export async function startLogin(http: Server, bearer: string, slug: string): Promise<StartedLogin> {
  const res = await request(http).post(startPath(slug)).set('authorization', bearer);
  if (res.status !== 201) throw new Error(`start failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as StartedLogin;
}

/** The provider's redirect, as the browser follows it (path and query of `redirect`, on `http`). */
export function followRedirect(http: Server, redirect: URL): request.Test {
  return request(http).get(`${redirect.pathname}${redirect.search}`);
}

export function poll(http: Server, bearer: string, slug: string, id: string): request.Test {
  return request(http).get(resultPath(slug, id)).set('authorization', bearer);
}
