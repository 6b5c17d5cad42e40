import request from 'supertest';
import { RevocationFeed } from 'src/database/revocation-feed';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { provision } from 'test/helpers/factories';
import { INVALID_API_KEY, resolveKey, UNAUTHORIZED } from 'test/helpers/http';
import { m2mToken } from 'test/helpers/issuers';
import { eventually } from 'test/helpers/waiting';

const ADMIN_TOKEN = `admin-${'r'.repeat(40)}`;
/** Enough rounds for a race between a NOTIFY and the next request to show, were the caches not fenced. */
const ROUNDS = 20;

/**
 * A credential revoked on one instance fails on the very next request on another that had it cached — every
 * time, not most of the time: a cached positive is only served once the revocation feed's barrier passed
 * (a mark sent after the request arrived came back), and notifications arrive in commit order.
 */
describe('revocations across instances, round after round', () => {
  const suite = e2eSuite();
  let a: TestApp;
  let b: TestApp;
  const secrets: string[] = [];

  beforeAll(async () => {
    // Mints are limited to 10 an hour per IP: these rounds mint more.
    const env = { ADMIN_TOKEN, RATE_LIMIT_ORG_TOKEN_MINT: '1000/1h' };
    a = await suite.boot(env);
    b = await suite.boot(env);
    await eventually(() => a.app.get(RevocationFeed).listening && b.app.get(RevocationFeed).listening);
  });

  afterAll(() => {
    expect(a.logs.leaked([...secrets, ADMIN_TOKEN])).toEqual([]);
  });

  it('an API key replaced on one instance is refused by the other on the next call', async () => {
    const provisioner = await m2mToken(suite.m2m, 'provisioner', 'provision:apikey');
    const resolver = await m2mToken(suite.m2m, 'gateway', 'apikeys:resolve');
    for (let round = 0; round < ROUNDS; round++) {
      const first = await provision(a.http, provisioner, { externalId: 'across-instances' });
      secrets.push(first.apiKey);
      await resolveKey(b.http, resolver, first.apiKey).expect(200);
      await resolveKey(b.http, resolver, first.apiKey).expect(200); // from b's cache
      const second = await provision(a.http, provisioner, { externalId: 'across-instances' }); // revokes `first`
      secrets.push(second.apiKey);
      await resolveKey(b.http, resolver, first.apiKey).expect(401, INVALID_API_KEY);
    }
  });

  it('an org token revoked on one instance is refused by the other on the next request', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const minted = await request(a.http)
        .post('/api/v1/org/tokens')
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({ name: `round ${round}` })
        .expect(201);
      const { id, token } = minted.body as { id: string; token: string };
      secrets.push(token);
      const whoami = () =>
        request(b.http).get('/api/v1/admin/whoami').set('authorization', `Bearer ${token}`);
      await whoami().expect(200);
      await whoami().expect(200); // from b's cache
      await request(a.http)
        .delete(`/api/v1/org/tokens/${id}`)
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .expect(200);
      await whoami().expect(401, UNAUTHORIZED);
    }
  });
});
