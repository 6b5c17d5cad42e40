import { randomUUID } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { type TestIssuer } from 'test/helpers/issuers';
import { resolveKey } from 'test/helpers/http';

const UNAUTHORIZED = { error: { type: 'unauthorized', status: 401, message: 'Authentication required.' } };
const INVALID_KEY = { error: { type: 'invalid_api_key', status: 401, message: 'Invalid API key.' } };
const DAY = 86_400;

/**
 * Issue 12, "Also": JWTs with an implausible lifetime are refused on both tiers — an `exp` too far away (from
 * `iat`, or from now when there is no `iat`) or an `iat` in the future beyond the clock skew. Real tokens from
 * a real issuer, signed with its key: only the claims are implausible.
 */
describe('JWT lifetimes', () => {
  const suite = e2eSuite();
  let m2m: TestIssuer;
  let session: TestIssuer;
  let t: TestApp;
  let strict: TestApp;
  const now = (): number => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    ({ m2m, session } = suite);
    t = await suite.boot();
    strict = await suite.boot({
      AUTH_SESSION_MAX_TOKEN_LIFETIME_SECONDS: '300',
      AUTH_M2M_MAX_TOKEN_LIFETIME_SECONDS: '300',
    });
  });

  interface Tier {
    name: string;
    token: (claims: Record<string, unknown>) => Promise<string>;
    call: (app: TestApp, token: string) => request.Test;
    accepted: { status: number; body?: unknown };
  }
  const tiers: Tier[] = [
    {
      name: 'M2M',
      token: (claims) =>
        m2m.token({
          sub: 'gw@clients',
          gty: 'client-credentials',
          scope: 'apikeys:resolve',
          jti: randomUUID(),
          ...claims,
        }),
      call: (app, token) => resolveKey(app.http, token, 'ksk_x'),
      accepted: { status: 401, body: INVALID_KEY },
    },
    {
      name: 'session',
      token: (claims) => session.token({ sub: 'lifetime-user', jti: randomUUID(), ...claims }),
      call: (app, token) =>
        request(app.http).get('/api/v1/developer/projects').set('authorization', `Bearer ${token}`),
      accepted: { status: 200 },
    },
  ];

  describe.each(tiers)('$name', (tier) => {
    const expectAccepted = async (app: TestApp, claims: Record<string, unknown>): Promise<void> => {
      const res = await tier.call(app, await tier.token(claims));
      expect({ status: res.status, body: res.body as unknown }).toMatchObject(tier.accepted);
    };
    const expectRefused = async (app: TestApp, claims: Record<string, unknown>): Promise<void> => {
      await tier.call(app, await tier.token(claims)).expect(401, UNAUTHORIZED);
    };

    it('accepts an ordinary lifetime, and exactly the maximum', async () => {
      await expectAccepted(t, { iat: now(), exp: now() + 3600 });
      const iat = now();
      await expectAccepted(t, { iat, exp: iat + DAY });
      await expectAccepted(t, { iat: undefined, exp: now() + 3600 });
    });

    it('refuses an exp years away', async () => {
      await expectRefused(t, { iat: now(), exp: now() + 2 * 365 * DAY });
    });

    it('refuses a lifetime just over the maximum (24 h by default)', async () => {
      const iat = now() - 60;
      await expectRefused(t, { iat, exp: iat + DAY + 1 });
    });

    it('refuses an iat in the future beyond the clock skew, accepts one within it', async () => {
      await expectRefused(t, { iat: now() + 600, exp: now() + 1200 });
      await expectAccepted(t, { iat: now() + 2, exp: now() + 600 });
    });

    it('without iat, judges exp against now', async () => {
      await expectRefused(t, { iat: undefined, exp: now() + 2 * DAY });
    });

    it('refuses an iat that is not a number', async () => {
      await expectRefused(t, { iat: 'yesterday', exp: now() + 600 });
    });

    it('honours a configured maximum', async () => {
      await expectAccepted(strict, { iat: now(), exp: now() + 300 });
      await expectRefused(strict, { iat: now(), exp: now() + 600 });
      await expectRefused(strict, { iat: undefined, exp: now() + 600 });
    });
  });

  it('session tokens signed with AUTH_SESSION_SECRET (HS256) are held to the same rule', async () => {
    const secret = 's'.repeat(40);
    const hs = await suite.boot({ AUTH_SESSION_JWKS_URI: '', AUTH_SESSION_SECRET: secret });
    const call = (exp: number) =>
      request(hs.http)
        .get('/api/v1/developer/projects')
        .set(
          'authorization',
          `Bearer ${sign({ sub: 'hs-user', iss: session.url, aud: session.audience, exp }, secret, { algorithm: 'HS256' })}`,
        );
    await call(now() + 600).expect(200);
    await call(now() + 2 * 365 * DAY).expect(401, UNAUTHORIZED);
  });
});
