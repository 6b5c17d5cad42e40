import { scopesOf } from 'src/auth/jwt/claims';
import { tokenShape } from 'src/auth/jwt/token-shape';
import { PROVIDER_TOKENS } from 'test/fixtures/provider-tokens';

describe('tokenShape', () => {
  describe.each(PROVIDER_TOKENS)('$provider', ({ service, person, client, scopes }) => {
    it('recognises the client-credentials token and names its client', () => {
      expect(tokenShape(service)).toMatchObject({ kind: 'client', clientId: client });
    });

    it('reads its scopes where the provider puts them', () => {
      expect(scopesOf(service).sort()).toEqual([...scopes].sort());
    });

    it('does not take the user-grant token of the same server for a client', () => {
      expect(tokenShape(person).kind).not.toBe('client');
    });
  });

  it.each([
    ['Auth0', { gty: 'client-credentials', azp: 'c', sub: 'c@clients' }, 'auth0'],
    ['Auth0 without gty', { sub: 'c@clients' }, 'auth0'],
    ['RFC 9068', { sub: 'c', client_id: 'c' }, 'rfc9068'],
    ['RFC 9068 with azp', { sub: 'c', azp: 'c' }, 'rfc9068'],
    ['Okta', { cid: 'c', sub: 'c', scp: ['x'] }, 'okta'],
    ['Entra ID', { tid: 't', oid: 'o', sub: 'o', azp: 'c', idtyp: 'app' }, 'entra'],
    ['Keycloak', { sub: 'u', azp: 'c', client_id: 'c', preferred_username: 'service-account-c' }, 'keycloak'],
    ['IdentityServer', { client_id: 'c', scope: ['x'] }, 'identityserver'],
  ])('labels a %s token', (_label, claims, shape) => {
    expect(tokenShape(claims)).toMatchObject({ kind: 'client', shape });
  });

  it.each([
    ['an Auth0 grant other than client credentials', { gty: 'password', sub: 'c@clients', azp: 'c' }],
    ['an Auth0 refresh', { gty: ['refresh_token', 'password'], sub: 'auth0|p' }],
    ['an Okta token with a uid', { cid: 'c', sub: 'c', uid: '00u1' }],
    ['an Okta token whose sub is not the client', { cid: 'c', sub: 'alice@example.com' }],
    ['an Entra token typed user', { tid: 't', oid: 'o', sub: 'o', azp: 'c', idtyp: 'user' }],
    ['an Entra token with delegated scopes', { tid: 't', oid: 'o', sub: 'o', azp: 'c', scp: 'x' }],
    ['an Entra token whose sub is pairwise', { tid: 't', oid: 'o', sub: 'p', azp: 'c', roles: ['x'] }],
    ['an app-typed Entra token without a client', { tid: 't', oid: 'o', sub: 'o', idtyp: 'app' }],
  ])('takes %s for a person, whatever else it says', (_label, claims) => {
    expect(tokenShape(claims)).toEqual({ kind: 'person' });
  });

  it.each([
    [
      'a Keycloak token whose azp is another client',
      { sub: 'u', azp: 'x', client_id: 'c', preferred_username: 'service-account-c' },
    ],
    ['a Keycloak token without client_id', { sub: 'u', azp: 'c', preferred_username: 'service-account-c' }],
    [
      'a Keycloak token with a person’s username',
      { sub: 'u', azp: 'c', client_id: 'c', preferred_username: 'alice' },
    ],
    [
      'a user named like the client’s service account',
      { sub: 'u', azp: 'c', preferred_username: 'service-account-c', typ: 'Bearer' },
    ],
    ['a sub that is not the client', { sub: 'u', client_id: 'c' }],
    ['nothing at all', {}],
    ['a blank or over-long client', { client_id: '   ', sub: '   ' }],
  ])('cannot tell %s', (_label, claims) => {
    expect(tokenShape(claims).kind).toBe('unknown');
  });

  it('names the client of an unknown shape and says whether a person signed in', () => {
    expect(tokenShape({ sub: 's', azp: 'c' })).toEqual({ kind: 'unknown', clientId: 'c', endUser: false });
    expect(tokenShape({ sub: 's', client_id: 'c', azp: 'a' })).toMatchObject({ clientId: 'c' });
    for (const claim of ['auth_time', 'amr', 'nonce', 'email', 'name', 'upn']) {
      expect(tokenShape({ sub: 's', azp: 'c', [claim]: 'x' })).toMatchObject({ endUser: true });
    }
    expect(tokenShape({ sub: 's', azp: 'c', preferred_username: 'alice' })).toMatchObject({ endUser: true });
    expect(tokenShape({ sub: 's', azp: 'c', preferred_username: 'service-account-x' })).toMatchObject({
      endUser: false,
    });
    expect(tokenShape({ sub: 'auth0|64f1', azp: 'c' })).toMatchObject({ endUser: true });
    expect(tokenShape({ sub: 'google-oauth2|1098', azp: 'c' })).toMatchObject({ endUser: true });
    expect(tokenShape({ sub: 's', azp: 'c'.repeat(256) })).toMatchObject({ clientId: undefined });
  });
});
