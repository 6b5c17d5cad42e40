import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { decode, sign } from 'jsonwebtoken';
import request from 'supertest';
import { SessionAuthService } from 'src/auth/jwt/session-auth.service';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { internalEnv, M2M_AUDIENCE, SESSION_AUDIENCE, sessionEnv, TestIssuer } from 'test/helpers/issuers';

/** Base64url JSON segment, for hand-built tokens a real library refuses to produce. */
const seg = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('the test issuer the session and M2M suites rely on', () => {
  it('issues RS256 tokens with the given claims and serves its JWKS', async () => {
    const issuer = await TestIssuer.start('aud-x');
    try {
      const token = await issuer.token({ sub: 'user-1', org_id: 'org-1' });
      const decoded = decode(token, { complete: true });
      expect(decoded?.header.alg).toBe('RS256');
      expect(decoded?.payload).toMatchObject({
        sub: 'user-1',
        org_id: 'org-1',
        aud: 'aud-x',
        iss: issuer.url,
      });
      const jwks = (await (await fetch(issuer.jwksUri)).json()) as { keys: unknown[] };
      expect(jwks.keys).toHaveLength(1);
    } finally {
      await issuer.stop();
    }
  });
});

describe('session JWT verification (passport-jwt against a real issuer)', () => {
  const suite = e2eSuite({ issuers: false });
  let issuer: TestIssuer;
  let other: TestIssuer;
  let t: TestApp;
  let sessions: SessionAuthService;

  beforeAll(async () => {
    issuer = await TestIssuer.start('keysmith-ui');
    other = await TestIssuer.start('keysmith-ui');
    t = await suite.start(sessionEnv(issuer));
    sessions = t.app.get(SessionAuthService);
  });

  afterAll(async () => {
    await issuer?.stop();
    await other?.stop();
  });

  it('accepts a valid token: the user is `sub`, the org is `org_id`', async () => {
    const principal = await sessions.verify(await issuer.token({ sub: 'user-1', org_id: 'org-a' }));
    expect(principal).toEqual({ kind: 'session', sub: 'user-1', orgId: 'org-a', actor: 'session:user-1' });
  });

  it.each([
    ['an empty sub', { sub: '' }],
    ['no sub', { sub: undefined }],
    ['another audience', { sub: 'u', aud: 'someone-else' }],
    ['another issuer claim', { sub: 'u', iss: 'https://evil.example' }],
    ['a client-credentials (M2M) token', { sub: 'svc@clients', gty: 'client-credentials' }],
    ['a token without exp (it would never expire)', { sub: 'u', exp: undefined }],
  ])('refuses %s', async (_label, claims) => {
    expect(await sessions.verify(await issuer.token(claims))).toBeNull();
  });

  it('refuses an expired token', async () => {
    expect(await sessions.verify(await issuer.token({ sub: 'u' }, { expiresIn: -60 }))).toBeNull();
  });

  it('refuses a token signed by another issuer’s key', async () => {
    const foreign = await other.token({ sub: 'u', iss: issuer.url });
    expect(await sessions.verify(foreign)).toBeNull();
  });

  it('refuses a token signed with a key the JWKS does not publish', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const token = sign({ sub: 'u', iss: issuer.url, aud: issuer.audience }, privateKey, {
      algorithm: 'RS256',
      keyid: 'made-up-kid',
      expiresIn: 60,
    });
    expect(await sessions.verify(token)).toBeNull();
  });

  it('refuses alg "none"', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = `${seg({ alg: 'none', typ: 'JWT' })}.${seg({ sub: 'u', iss: issuer.url, aud: issuer.audience, exp: now + 60 })}.`;
    expect(await sessions.verify(token)).toBeNull();
  });

  it('refuses HS256 signed with the issuer’s public key (algorithm confusion)', async () => {
    const jwks = (await (await fetch(issuer.jwksUri)).json()) as { keys: (object & { kid: string })[] };
    const jwk = jwks.keys[0]!;
    const publicPem = createPublicKey({ key: jwk, format: 'jwk' } as never)
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const token = sign({ sub: 'u', iss: issuer.url, aud: issuer.audience }, publicPem, {
      algorithm: 'HS256',
      keyid: jwk.kid,
      expiresIn: 60,
    });
    expect(await sessions.verify(token)).toBeNull();
  });

  it('refuses garbage', async () => {
    expect(await sessions.verify('not-a-jwt')).toBeNull();
    expect(await sessions.verify('a.b.c')).toBeNull();
  });

  describe('with an HS256 secret instead of a JWKS', () => {
    const secret = 's'.repeat(40);
    let hs: TestApp;

    beforeAll(async () => {
      hs = await suite.start({ AUTH_SESSION_SECRET: secret, AUTH_SESSION_AUDIENCE: 'ui' });
    });
    afterAll(() => hs?.close());

    it('accepts HS256 with the secret and the audience, refuses the rest', async () => {
      const svc = hs.app.get(SessionAuthService);
      expect(
        await svc.verify(sign({ sub: 'u2', aud: 'ui' }, secret, { algorithm: 'HS256', expiresIn: 60 })),
      ).toMatchObject({
        sub: 'u2',
      });
      expect(
        await svc.verify(sign({ sub: 'u2', aud: 'x' }, secret, { algorithm: 'HS256', expiresIn: 60 })),
      ).toBeNull();
      expect(
        await svc.verify(sign({ sub: 'u2', aud: 'ui' }, 'w'.repeat(40), { algorithm: 'HS256' })),
      ).toBeNull();
      expect(await svc.verify(sign({ sub: 'u2', aud: 'ui' }, secret, { algorithm: 'HS512' }))).toBeNull();
    });
  });

  describe("while the identity provider's JWKS cannot be fetched", () => {
    let m2m: TestIssuer;

    beforeAll(async () => {
      m2m = await TestIssuer.start(M2M_AUDIENCE);
    });
    afterAll(() => m2m?.stop());

    it('@SessionAuth routes are 503 service_unavailable with Retry-After; AdminAuth still accepts ADMIN_TOKEN', async () => {
      const idp = await TestIssuer.start(SESSION_AUDIENCE);
      const adminToken = 'a'.repeat(40);
      const app = await suite.start({ ...internalEnv(m2m, idp), ADMIN_TOKEN: adminToken });
      try {
        const st = await idp.token({ sub: 'jwks-down-user' });
        await idp.stop();
        const res = await request(app.http)
          .get('/api/v1/developer/projects')
          .set('authorization', `Bearer ${st}`);
        expect(res.status).toBe(503);
        expect((res.body as { error: { type: string } }).error.type).toBe('service_unavailable');
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        await request(app.http)
          .get('/api/v1/admin/whoami')
          .set('authorization', `Bearer ${adminToken}`)
          .expect(200);
      } finally {
        await app.close();
      }
    });
  });

  it('is off when neither a JWKS nor a secret is configured', async () => {
    // Without any AUTH_SESSION_* or AUTH_M2M_* variable the development issuer would be on (decision 0045).
    const off = await suite.start({ AUTH_DEVELOPMENT_ISSUER: 'false' });
    try {
      const svc = off.app.get(SessionAuthService);
      expect(svc.enabled).toBe(false);
      expect(await svc.verify(await issuer.token({ sub: 'u' }))).toBeNull();
    } finally {
      await off.close();
    }
  });
});
