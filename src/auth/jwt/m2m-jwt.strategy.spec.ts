import { plausibleLifetime, scopesOf } from 'src/auth/jwt/claims';
import { M2MJwtStrategy } from 'src/auth/jwt/m2m-jwt.strategy';
import { refused } from 'src/auth/jwt/refusal';
import { PROVIDER_TOKENS } from 'test/fixtures/provider-tokens';

describe('M2M claims', () => {
  it('reads scopes from `scope` (space-separated or an array), `scp`, `permissions` and `roles`', () => {
    expect(scopesOf({ scope: 'a  b' })).toEqual(['a', 'b']);
    expect(scopesOf({ scope: ['a', 'b'] })).toEqual(['a', 'b']);
    expect(scopesOf({ scp: ['a', 'c'], permissions: ['d', 42] })).toEqual(['a', 'c', 'd']);
    expect(scopesOf({ scp: 'x y' })).toEqual(['x', 'y']);
    expect(scopesOf({ roles: ['r'] })).toEqual(['r']);
    expect(scopesOf({ scope: 7 })).toEqual([]);
  });
});

describe('M2MJwtStrategy.validate', () => {
  const strategy = (trustedClientIds: string[] = []) =>
    new M2MJwtStrategy({
      jwksUri: 'http://127.0.0.1:1/jwks',
      issuer: 'i',
      audiences: ['a'],
      jwksRefetchIntervalSeconds: 5,
      maxTokenLifetimeSeconds: 86_400,
      trustedClientIds,
    });

  const exp = Math.floor(Date.now() / 1000) + 60;

  it('accepts a client-credentials token', () => {
    expect(strategy().validate({ sub: 'svc@clients', gty: 'client-credentials', scope: 'x', exp })).toEqual({
      clientId: 'svc@clients',
      scopes: ['x'],
      actor: 'm2m:svc@clients',
      expiresAtMs: exp * 1000,
    });
    expect(strategy().validate({ client_id: 'svc', sub: 'svc', exp })).toMatchObject({ clientId: 'svc' });
  });

  it.each(PROVIDER_TOKENS)(
    '$provider: accepts the service, refuses the person',
    ({ service, person, client }) => {
      expect(strategy().validate({ ...service, exp })).toMatchObject({
        clientId: client,
        actor: `m2m:${client}`,
      });
      expect(strategy().validate({ ...person, exp })).toEqual(refused('not-client-credentials'));
    },
  );

  it('refuses a user grant or a token without a client, naming the rule', () => {
    const notClient = refused('not-client-credentials');
    expect(strategy().validate({ sub: 'person', gty: 'password', scope: 'x', exp })).toEqual(notClient);
    expect(strategy().validate({ sub: 'auth0|person', scope: 'x', exp })).toEqual(notClient);
    expect(strategy().validate({ scope: 'x', exp })).toEqual(notClient);
  });

  it('trusts AUTH_M2M_CLIENT_IDS only where the shape cannot tell, and never for a person’s sign-in', () => {
    const trusting = strategy(['batch']);
    expect(trusting.validate({ sub: 'svc-1', azp: 'batch', exp })).toMatchObject({ clientId: 'batch' });
    expect(strategy().validate({ sub: 'svc-1', azp: 'batch', exp })).toEqual(refused('client-not-trusted'));
    expect(trusting.validate({ sub: 'svc-1', azp: 'other', exp })).toEqual(refused('client-not-trusted'));
    const notClient = refused('not-client-credentials');
    expect(trusting.validate({ sub: 'svc-1', azp: 'batch', auth_time: 1, exp })).toEqual(notClient);
    expect(trusting.validate({ sub: 'svc-1', azp: 'batch', gty: 'password', exp })).toEqual(notClient);
    expect(trusting.validate({ cid: 'batch', sub: 'alice', exp })).toEqual(notClient);
  });

  it('refuses a token without a numeric exp, or with an implausible lifetime', () => {
    expect(strategy().validate({ sub: 'svc@clients', gty: 'client-credentials' })).toEqual(
      refused('no-expiry'),
    );
    expect(strategy().validate({ sub: 'svc@clients', gty: 'client-credentials', exp: '9999999999' })).toEqual(
      refused('no-expiry'),
    );
    expect(
      strategy().validate({ sub: 'svc@clients', gty: 'client-credentials', exp: exp + 2 * 86_400 }),
    ).toEqual(refused('lifetime'));
  });
});

describe('plausibleLifetime', () => {
  const now = 1_800_000_000;
  const day = 86_400;
  const plausible = (claims: { exp: number; iat?: unknown }): boolean =>
    plausibleLifetime(claims, day, now, 5);

  it('accepts up to the maximum from iat, and from now without iat', () => {
    expect(plausible({ iat: now, exp: now + day })).toBe(true);
    expect(plausible({ iat: now - day, exp: now })).toBe(true);
    expect(plausible({ exp: now + day })).toBe(true);
  });

  it('refuses a longer lifetime, an iat beyond the skew, an iat that is not a number', () => {
    expect(plausible({ iat: now, exp: now + day + 1 })).toBe(false);
    expect(plausible({ exp: now + day + 1 })).toBe(false);
    expect(plausible({ iat: now + 5, exp: now + 60 })).toBe(true);
    expect(plausible({ iat: now + 6, exp: now + 60 })).toBe(false);
    expect(plausible({ iat: '1', exp: now + 60 })).toBe(false);
    expect(plausible({ iat: Number.NaN, exp: now + 60 })).toBe(false);
  });
});
