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
    RATE_LIMIT_OAUTH_START_USER: '10000/60s',
    RATE_LIMIT_OAUTH_CALLBACK: '10000/60s',
  };
}

export interface StartedLogin {
  loginSessionId: string;
  authUrl: string;
  expiresAt: string;
  pollIntervalSeconds: number;
}

export const startPath = (slug: string): string => `/api/v1/auth/providers/${slug}/start`;
export const resultPath = (slug: string, id: string, completionCode?: string): string =>
  `/api/v1/auth/providers/${slug}/result?loginSessionId=${encodeURIComponent(id)}` +
  (completionCode === undefined ? '' : `&completionCode=${encodeURIComponent(completionCode)}`);

/** What the success page posts to the settings UI window that opened it (API.md). */
export interface CompletionMessage {
  type: 'keysmith:provider-linked';
  loginSessionId: string;
  completionCode: string;
}

/**
 * The completion message of a callback success page, read from its JSON data block as the page's script
 * reads it (the one place the page writes it); throws when the page has none.
 */
export function completionOf(html: string): CompletionMessage {
  const block = /<script type="application\/json" id="keysmith-completion">([\s\S]*?)<\/script>/.exec(html);
  if (!block) throw new Error('the page carries no completion message');
  return JSON.parse(block[1]!) as CompletionMessage;
}

/** The origins the success page posts its message to. */
export function targetOriginsOf(html: string): string[] {
  const block = /<script type="application\/json" id="keysmith-targets">([\s\S]*?)<\/script>/.exec(html);
  if (!block) throw new Error('the page carries no target origins');
  return JSON.parse(block[1]!) as string[];
}

/**
 * The whole handoff as the settings UI runs it, without a browser: the provider's login for `authUrl`, its
 * redirect followed (asserting the 200 page), and the completion code the page hands over.
 */
export async function completeLogin(
  http: Server,
  provider: { login(authUrl: string): { redirect: URL; apiKey: string; token: string } },
  authUrl: string,
): Promise<{ apiKey: string; token: string; completionCode: string; page: request.Response }> {
  const issued = provider.login(authUrl);
  const page = await followRedirect(http, issued.redirect);
  if (page.status !== 200) throw new Error(`callback failed: ${page.status}`);
  return {
    apiKey: issued.apiKey,
    token: issued.token,
    completionCode: completionOf(page.text).completionCode,
    page,
  };
}

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

/** A poll of `result`, with the completion code when given. */
export function poll(
  http: Server,
  bearer: string,
  slug: string,
  id: string,
  completionCode?: string,
): request.Test {
  return request(http)
    .get(resultPath(slug, id, completionCode))
    .set('authorization', bearer);
}
