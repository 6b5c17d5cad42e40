import type { TestIssuer } from 'test/helpers/issuer';

/** Env for an app whose session tier trusts `issuer`. */
export function sessionEnv(issuer: TestIssuer): Record<string, string> {
  return {
    AUTH_SESSION_JWKS_URI: issuer.jwksUri,
    AUTH_SESSION_ISSUER: issuer.url,
    AUTH_SESSION_AUDIENCE: issuer.audience,
  };
}

/** An `authorization` header value for the session user `sub`. */
export async function sessionBearer(issuer: TestIssuer, sub: string): Promise<string> {
  return `Bearer ${await issuer.token({ sub })}`;
}

/** The error envelope of `type`/`status`, whatever the message. */
export const errorShape = (type: string, status: number): unknown => ({
  error: expect.objectContaining({ type, status, message: expect.any(String) }) as unknown,
});

/** Starts `count` calls at once (`call(i)` for i = 0..count-1) and waits for all of them. */
export function concurrently<T>(count: number, call: (i: number) => PromiseLike<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => call(i)));
}
