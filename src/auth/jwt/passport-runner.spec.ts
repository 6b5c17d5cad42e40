import { sign } from 'jsonwebtoken';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { KeySource } from 'src/auth/jwt/key-set';
import { runStrategy } from 'src/auth/jwt/passport-runner';
import { SessionJwtStrategy } from 'src/auth/jwt/session-jwt.strategy';
import type { SessionPrincipal } from 'src/auth/principal';

const ISSUER = { issuer: 'https://issuer.example', audiences: ['keysmith'] };
const limits = { jwksRefetchIntervalSeconds: 5, maxTokenLifetimeSeconds: 3600 };
const SECRET = 'passport-runner-session-secret-0123456789';
const claims = { sub: 'user-1', iss: ISSUER.issuer, aud: 'keysmith' };

/** The development issuer's kind of key source: one EC key, every lookup counted. */
class OneKey implements KeySource {
  readonly lookups: [string | undefined, string][] = [];
  constructor(private readonly key: KeyObject) {}
  keyFor(kid: string | undefined, alg: string): Promise<KeyObject> {
    this.lookups.push([kid, alg]);
    return Promise.resolve(this.key);
  }
}

describe('runStrategy', () => {
  it('verifies the credential it is given: no Authorization header is written for passport-jwt to parse', async () => {
    const strategy = new SessionJwtStrategy({ ...ISSUER, ...limits, secret: SECRET });
    const token = sign(claims, SECRET, { algorithm: 'HS256', expiresIn: 60 });
    await expect(runStrategy<SessionPrincipal>(strategy, { credential: token })).resolves.toEqual({
      user: { kind: 'session', sub: 'user-1', actor: 'session:user-1' },
    });
    await expect(runStrategy(strategy, { credential: '' })).resolves.toEqual({
      user: null,
      rule: 'no-token',
    });
  });

  it('looks a key up from the header decoded once, and only for a token that claims our issuer', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keys = new OneKey(publicKey);
    const strategy = new SessionJwtStrategy({ ...ISSUER, ...limits }, keys);
    const token = sign(claims, privateKey, { algorithm: 'ES256', keyid: 'k1', expiresIn: 60 });
    await expect(runStrategy(strategy, { credential: token })).resolves.toMatchObject({
      user: { sub: 'user-1' },
    });
    expect(keys.lookups).toEqual([['k1', 'ES256']]);

    const foreign = sign({ ...claims, iss: 'https://other.example' }, privateKey, {
      algorithm: 'ES256',
      keyid: 'k1',
      expiresIn: 60,
    });
    await expect(runStrategy(strategy, { credential: foreign })).resolves.toEqual({
      user: null,
      rule: 'issuer',
    });
    expect(keys.lookups).toHaveLength(1);
  });
});
