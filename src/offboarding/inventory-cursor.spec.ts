import { ApiError } from 'src/errors/api-error';
import { decodeCursor, encodeCursor, filterDigest } from 'src/offboarding/inventory-cursor';

const position = { createdAtUs: '1796835200123457', id: '9620ca38-1ffd-428e-955d-65d0b842df3e' };

describe('inventory cursors', () => {
  const digest = filterDigest('api-keys', { status: 'ACTIVE', q: undefined });

  it('round-trips a position under the same list and filters', () => {
    expect(decodeCursor(encodeCursor(position, digest), digest)).toEqual(position);
  });

  it('digests the list and the filters, not undefined ones nor their order', () => {
    expect(filterDigest('api-keys', { status: 'ACTIVE' })).toBe(digest);
    expect(filterDigest('api-keys', { a: '1', b: '2' })).toBe(filterDigest('api-keys', { b: '2', a: '1' }));
    expect(filterDigest('users', { status: 'ACTIVE' })).not.toBe(digest);
    expect(filterDigest('api-keys', { status: 'REVOKED' })).not.toBe(digest);
  });

  it.each([
    ['another filter', encodeCursor(position, filterDigest('api-keys', {}))],
    ['not base64url', 'a+b/c='],
    ['not JSON', Buffer.from('{').toString('base64url')],
    ['too long', 'a'.repeat(257)],
    [
      'a 17-digit time',
      Buffer.from(JSON.stringify([1, '12345678901234567', position.id, digest])).toString('base64url'),
    ],
    ['a leading zero', Buffer.from(JSON.stringify([1, '0123', position.id, digest])).toString('base64url')],
  ])('refuses %s with a 400 naming cursor', (_label, cursor) => {
    let error: unknown;
    try {
      decodeCursor(cursor, digest);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect(JSON.stringify((error as ApiError).options.details)).toContain('cursor');
  });
});
