import type { Server } from 'node:http';
import request from 'supertest';

/** The one answer to every failed authentication (API.md, "Errors"). */
export const UNAUTHORIZED = {
  error: { type: 'unauthorized', status: 401, message: 'Authentication required.' },
};

/** The one answer to every key that does not resolve: malformed, unknown, wrong secret, revoked, expired. */
export const INVALID_API_KEY = {
  error: { type: 'invalid_api_key', status: 401, message: 'Invalid API key.' },
};

/** The error envelope of `type`/`status`, whatever the message. */
export const errorShape = (type: string, status: number): unknown => ({
  error: expect.objectContaining({ type, status, message: expect.any(String) }) as unknown,
});

/** `POST /api/v1/internal/api-keys/resolve` with the M2M `token`, presenting `key`. */
export function resolveKey(http: Server, token: string, key: unknown): request.Test {
  return request(http)
    .post('/api/v1/internal/api-keys/resolve')
    .set('authorization', `Bearer ${token}`)
    .send({ key });
}
