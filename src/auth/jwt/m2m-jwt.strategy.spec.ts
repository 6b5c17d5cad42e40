import { clientIdOf, scopesOf } from 'src/auth/jwt/claims';
import { M2MJwtStrategy } from 'src/auth/jwt/m2m-jwt.strategy';

describe('M2M claims', () => {
  it('reads scopes from `scope` (space-separated), `scp` and `permissions`', () => {
    expect(scopesOf({ scope: 'a  b' })).toEqual(['a', 'b']);
    expect(scopesOf({ scp: ['a', 'c'], permissions: ['d', 42] })).toEqual(['a', 'c', 'd']);
    expect(scopesOf({ scp: 'x y' })).toEqual(['x', 'y']);
    expect(scopesOf({ scope: 7 })).toEqual([]);
  });

  it('names the client by client_id, then azp, then sub, for tokens that look like client credentials', () => {
    const cc = { gty: 'client-credentials' };
    expect(clientIdOf({ ...cc, client_id: 'c', azp: 'a', sub: 's' })).toBe('c');
    expect(clientIdOf({ ...cc, azp: 'a', sub: 's' })).toBe('a');
    expect(clientIdOf({ sub: 's@clients' })).toBe('s@clients');
    expect(clientIdOf({ client_id: 'c', sub: 'c' })).toBe('c');
    expect(clientIdOf({ azp: 'a', sub: 'a' })).toBe('a');
    expect(clientIdOf({ sub: '  ' })).toBeUndefined();
    expect(clientIdOf({})).toBeUndefined();
  });

  it('refuses tokens that name a person: no gty and a sub that is not the client', () => {
    expect(clientIdOf({ sub: 'auth0|person' })).toBeUndefined();
    expect(clientIdOf({ sub: 'auth0|person', azp: 'spa' })).toBeUndefined();
    expect(clientIdOf({ sub: 'auth0|person', client_id: 'spa' })).toBeUndefined();
    expect(clientIdOf({ sub: 'svc@clients', gty: 'authorization_code' })).toBeUndefined();
  });

  describe('validate', () => {
    const strategy = new M2MJwtStrategy({
      jwksUri: 'http://127.0.0.1:1/jwks',
      issuer: 'i',
      audience: 'a',
      jwksRefetchIntervalSeconds: 5,
    });

    const exp = Math.floor(Date.now() / 1000) + 60;

    it('accepts a client-credentials token', () => {
      expect(strategy.validate({ sub: 'svc@clients', gty: 'client-credentials', scope: 'x', exp })).toEqual({
        clientId: 'svc@clients',
        scopes: ['x'],
        actor: 'm2m:svc@clients',
        expiresAtMs: exp * 1000,
      });
      expect(strategy.validate({ client_id: 'svc', sub: 'svc', exp })).toMatchObject({ clientId: 'svc' });
    });

    it('refuses a user grant or a token without a client', () => {
      expect(strategy.validate({ sub: 'person', gty: 'password', scope: 'x', exp })).toBe(false);
      expect(strategy.validate({ sub: 'auth0|person', scope: 'x', exp })).toBe(false);
      expect(strategy.validate({ scope: 'x', exp })).toBe(false);
    });

    it('refuses a token without a numeric exp', () => {
      expect(strategy.validate({ sub: 'svc@clients', gty: 'client-credentials' })).toBe(false);
      expect(strategy.validate({ sub: 'svc@clients', gty: 'client-credentials', exp: '9999999999' })).toBe(
        false,
      );
    });
  });
});
