import { e2eSuite, type TestApp } from 'test/helpers/app';
import { INVALID_API_KEY, resolveKey, UNAUTHORIZED } from 'test/helpers/http';
import { internalEnv, M2M_AUDIENCE, SESSION_AUDIENCE, TestIssuer } from 'test/helpers/issuers';

jest.setTimeout(60_000);

/** What a client gets for `resource=https://keysmith.example` (RFC 8707): `aud` is that URL, as sent. */
const RESOURCE = 'https://keysmith.example';
const SERVICE = { sub: 'gw@clients', azp: 'gw', gty: 'client-credentials', scope: 'apikeys:resolve' };

/**
 * Issue 16, friction b: AUTH_M2M_AUDIENCE against resource-indicator audiences. A comma list accepts a
 * resource URL next to an older audience; `aud` is compared exactly (no URL normalisation), and an array
 * `aud` passes when any entry is one of ours.
 */
describe('AUTH_M2M_AUDIENCE: resource indicators, several audiences, array aud', () => {
  const suite = e2eSuite({ issuers: false });
  let m2m: TestIssuer;
  let session: TestIssuer;
  let t: TestApp;

  beforeAll(async () => {
    m2m = await TestIssuer.start(M2M_AUDIENCE);
    session = await TestIssuer.start(SESSION_AUDIENCE);
    t = await suite.start({
      ...internalEnv(m2m, session),
      AUTH_M2M_AUDIENCE: `${M2M_AUDIENCE},${RESOURCE}`,
    });
  });

  afterAll(async () => {
    await m2m?.stop();
    await session?.stop();
  });

  const resolveWithAud = async (aud: unknown, status: number, body: unknown): Promise<void> => {
    await resolveKey(t.http, await m2m.token({ ...SERVICE, aud }), 'ksk_made_up').expect(status, body);
  };

  it.each([
    ['the resource URL', RESOURCE],
    ['the older audience', M2M_AUDIENCE],
    ['an array holding one of them', ['https://api.elsewhere.example', RESOURCE]],
  ])('accepts %s', async (_label, aud) => {
    await resolveWithAud(aud, 401, INVALID_API_KEY);
  });

  it.each([
    ['another resource', 'https://elsewhere.example'],
    ['the resource URL with a trailing slash (compared exactly)', `${RESOURCE}/`],
    ['the resource URL in another case', 'https://KEYSMITH.example'],
    ['an array of others', ['https://elsewhere.example', SESSION_AUDIENCE]],
    ['the whole list as one string', `${M2M_AUDIENCE},${RESOURCE}`],
  ])('refuses %s', async (_label, aud) => {
    await resolveWithAud(aud, 401, UNAUTHORIZED);
  });
});
