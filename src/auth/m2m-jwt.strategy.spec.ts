import { clientIdOf, M2MJwtStrategy, scopesOf } from 'src/auth/m2m-jwt.strategy';

describe('M2M claims', () => {
  it('reads scopes from `scope` (space-separated), `scp` and `permissions`', () => {
    expect(scopesOf({ scope: 'a  b' })).toEqual(['a', 'b']);
    expect(scopesOf({ scp: ['a', 'c'], permissions: ['d', 42] })).toEqual(['a', 'c', 'd']);
    expect(scopesOf({ scp: 'x y' })).toEqual(['x', 'y']);
    expect(scopesOf({ scope: 7 })).toEqual([]);
  });

  it('names the client by client_id, then azp, then sub', () => {
    expect(clientIdOf({ client_id: 'c', azp: 'a', sub: 's' })).toBe('c');
    expect(clientIdOf({ azp: 'a', sub: 's' })).toBe('a');
    expect(clientIdOf({ sub: 's@clients' })).toBe('s@clients');
    expect(clientIdOf({ sub: '  ' })).toBeUndefined();
    expect(clientIdOf({})).toBeUndefined();
  });

  describe('validate', () => {
    const strategy = new M2MJwtStrategy({ jwksUri: 'http://127.0.0.1:1/jwks', issuer: 'i', audience: 'a' });

    it('accepts a client-credentials token', () => {
      expect(strategy.validate({ sub: 'svc@clients', gty: 'client-credentials', scope: 'x' })).toEqual({
        clientId: 'svc@clients',
        scopes: ['x'],
        actor: 'm2m:svc@clients',
      });
      expect(strategy.validate({ client_id: 'svc' })).toMatchObject({ clientId: 'svc' });
    });

    it('refuses a user grant or a token without a client', () => {
      expect(strategy.validate({ sub: 'person', gty: 'password', scope: 'x' })).toBe(false);
      expect(strategy.validate({ scope: 'x' })).toBe(false);
    });
  });
});
