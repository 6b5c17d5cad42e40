import { generateKeyPairSync } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { errorShape, INVALID_API_KEY, resolveKey, UNAUTHORIZED } from 'test/helpers/http';
import { internalEnv, M2M_AUDIENCE, m2mToken, SESSION_AUDIENCE, TestIssuer } from 'test/helpers/issuers';

jest.setTimeout(60_000);

/** A key the issuer never published. */
const attackerKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const SERVICE = { sub: 'gw@clients', azp: 'gw', gty: 'client-credentials', scope: 'apikeys:resolve' };

/**
 * Item 10 of issue 16: a refused M2M token logs, at debug level, which rule refused it, never the token; the
 * caller still gets the one 401 (403 for a missing scope). A real issuer, the real resolve route, the app's
 * own log lines at LOG_LEVEL=debug.
 */
describe('refused M2M tokens: the rule in a debug line, the same answer for the caller', () => {
  const suite = e2eSuite({ issuers: false });
  let m2m: TestIssuer;
  let session: TestIssuer;
  let t: TestApp;
  const tokens: string[] = [];

  beforeAll(async () => {
    m2m = await TestIssuer.start(M2M_AUDIENCE);
    session = await TestIssuer.start(SESSION_AUDIENCE);
    t = await suite.start({ ...internalEnv(m2m, session), LOG_LEVEL: 'debug' });
    // The key set is loaded, so a bad signature under a known kid is judged by its signature.
    await resolveKey(t.http, await m2mToken(m2m, 'gw', 'apikeys:resolve'), 'ksk_x').expect(
      401,
      INVALID_API_KEY,
    );
  });

  afterAll(async () => {
    expect(t.logs.leaked(tokens)).toEqual([]);
    await m2m?.stop();
    await session?.stop();
  });

  const now = (): number => Math.floor(Date.now() / 1000);
  const forged = (claims: object, options: { kid: string; algorithm?: 'RS256' | 'HS256' }): string =>
    sign(
      { iss: m2m.url, aud: m2m.audience, exp: now() + 60, ...SERVICE, ...claims },
      options.algorithm === 'HS256' ? 'a-shared-secret-of-thirty-two-chars!' : attackerKey,
      { algorithm: options.algorithm ?? 'RS256', keyid: options.kid },
    );

  const cases: [string, () => Promise<string> | string][] = [
    ['malformed', () => 'not.a.jwt'],
    ['issuer', () => m2m.token({ ...SERVICE, iss: 'https://idp.elsewhere.example/' })],
    ['audience', () => m2m.token({ ...SERVICE, aud: 'https://keysmith.example' })],
    ['algorithm', () => forged({}, { kid: m2m.kid, algorithm: 'HS256' })],
    ['unknown-kid', () => forged({}, { kid: 'a-kid-nobody-published' })],
    ['signature', () => forged({}, { kid: m2m.kid })],
    ['expired', () => m2m.token({ ...SERVICE, iat: now() - 600, exp: now() - 60 })],
    ['not-yet-valid', () => m2m.token({ ...SERVICE, nbf: now() + 600 })],
    ['no-expiry', () => m2m.token({ ...SERVICE, exp: undefined })],
    ['lifetime', () => m2m.token({ ...SERVICE, iat: now(), exp: now() + 2 * 86_400 })],
    ['not-client-credentials', () => m2m.token({ sub: 'auth0|alice', scope: 'apikeys:resolve' })],
    ['client-not-trusted', () => m2m.token({ sub: 'svc-1', azp: 'batch', scope: 'apikeys:resolve' })],
  ];

  it.each(cases)('%s: the one 401, and a debug line naming the rule', async (rule, make) => {
    const token = await make();
    tokens.push(token);
    const mark = t.logs.lines.length;
    await resolveKey(t.http, token, 'ksk_x').expect(401, UNAUTHORIZED);
    const lines = t.logs.lines.slice(mark).filter((line) => line.includes('JWT refused'));
    expect(lines).toEqual([expect.stringContaining(`"rule":"${rule}"`)]);
    expect(lines[0]).toMatch(/"level":20/);
  });

  it('a verified token without the route’s scope: 403, and a debug line naming the scope rule', async () => {
    const token = await m2mToken(m2m, 'gw', 'provision:apikey');
    tokens.push(token);
    const mark = t.logs.lines.length;
    // Twice: the second answer comes from the remembered token, and is logged the same.
    for (let i = 0; i < 2; i++) {
      const res = await resolveKey(t.http, token, 'ksk_x').expect(403);
      expect(res.body).toEqual(errorShape('forbidden', 403));
    }
    const lines = t.logs.lines.slice(mark).filter((line) => line.includes('JWT refused'));
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).toMatch(/"level":20/);
      expect(line).toContain('"rule":"scope"');
      expect(line).toContain('"clientId":"gw"');
    }
  });
});
