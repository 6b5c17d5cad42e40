import type { Server } from 'node:http';
import request from 'supertest';

export const CREDENTIALS_PATH = '/api/v1/mcp-oauth-credentials';
export const ACCESS_TOKEN_PATH = '/api/v1/internal/mcp-oauth-credentials/access-token';

export interface AccessTokenAnswer {
  accessToken: string;
  tokenType: string;
  expiresAt: string | null;
  scope: string | null;
}

/** Deposits through the real endpoint as the session `bearer`; fails unless it is stored (200). */
export async function depositCredential(
  http: Server,
  bearer: string,
  body: Record<string, unknown>,
): Promise<void> {
  const res = await request(http).post(CREDENTIALS_PATH).set('authorization', bearer).send(body);
  if (res.status !== 200) throw new Error(`deposit failed: ${res.status} ${JSON.stringify(res.body)}`);
}

/** Asks for an access token with the M2M `token`. */
export function requestAccessToken(http: Server, token: string, body: unknown): request.Test {
  return request(http)
    .post(ACCESS_TOKEN_PATH)
    .set('authorization', `Bearer ${token}`)
    .send(body as object);
}
