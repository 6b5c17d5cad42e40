import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { PROVIDER_TOKENS } from 'test/fixtures/provider-tokens';
import { type TestIssuer } from 'test/helpers/issuers';
import { resolveKey } from 'test/helpers/http';

const UNAUTHORIZED = { error: { type: 'unauthorized', status: 401, message: 'Authentication required.' } };
/** The resolve route's answer to a made-up key: the M2M token itself was accepted, with its scope. */
const INVALID_KEY = { error: { type: 'invalid_api_key', status: 401, message: 'Invalid API key.' } };

/**
 * Item 11 of issue 12: the client-credentials tokens of the common identity providers, signed by a real
 * local issuer (with that provider's claims), are accepted on internal routes with the scopes where that
 * provider puts them, and the same server's user-grant tokens are refused. The client each one names is
 * what the audit log records (`m2m:<client>`).
 */
describe('internal routes: client-credentials tokens of the common identity providers', () => {
  const suite = e2eSuite();
  let m2m: TestIssuer;
  let t: TestApp;
  let trusting: TestApp;

  beforeAll(async () => {
    ({ m2m } = suite);
    t = await suite.boot();
    // Trusts, by name, the opaque client below and the client of every provider's user-grant token: a name
    // on the list never lets a person's token through.
    const personClients = PROVIDER_TOKENS.map(({ person }) =>
      [person.client_id, person.azp, person.cid, person.appid].find((c) => typeof c === 'string'),
    );
    trusting = await suite.boot({
      AUTH_M2M_CLIENT_IDS: ['legacy-batch', 'settings-ui-bff', ...personClients].join(','),
    });
  });

  describe.each(PROVIDER_TOKENS)('$provider', ({ service, person, client, scopes }) => {
    it('accepts the service token and reads its scopes', async () => {
      expect(scopes).toContain('apikeys:resolve');
      await resolveKey(t.http, await m2m.token(service), 'ksk_x').expect(401, INVALID_KEY);
    });

    it('names the client from the token in the audit log', async () => {
      const token = await m2m.token({
        ...service,
        scope: undefined,
        scp: undefined,
        permissions: undefined,
        roles: ['provision:apikey'],
      });
      const res = await request(t.http)
        .post('/api/v1/internal/provision-apikey')
        .set('authorization', `Bearer ${token}`)
        .send({
          externalId: `shape-${client}`.slice(0, 100),
          email: 'shape@example.com',
          orgId: 'org-allowed',
        });
      expect(res.status).toBe(200);
      const [row] = await suite.db.query<{ actor: string }>(
        `SELECT actor FROM audit_events WHERE action = 'api_key.provisioned' ORDER BY at DESC LIMIT 1`,
      );
      expect(row?.actor).toBe(`m2m:${client}`);
    });

    it('refuses the user-grant token of the same server, even when its client is trusted by name', async () => {
      const token = await m2m.token(person);
      await resolveKey(t.http, token, 'ksk_x').expect(401, UNAUTHORIZED);
      await resolveKey(trusting.http, token, 'ksk_x').expect(401, UNAUTHORIZED);
    });
  });

  describe('AUTH_M2M_CLIENT_IDS, where the shape cannot tell', () => {
    // A client-credentials token of an issuer that follows none of the shapes: a subject that is not the
    // client, and nothing that says which grant it came from.
    const opaque = { sub: 'svc-7f3a', azp: 'legacy-batch', scope: 'apikeys:resolve' };

    it('accepts a listed client and refuses an unlisted one', async () => {
      await resolveKey(trusting.http, await m2m.token(opaque), 'ksk_x').expect(401, INVALID_KEY);
      await resolveKey(t.http, await m2m.token(opaque), 'ksk_x').expect(401, UNAUTHORIZED);
      await resolveKey(trusting.http, await m2m.token({ ...opaque, azp: 'someone-else' }), 'ksk_x').expect(
        401,
        UNAUTHORIZED,
      );
    });

    it('refuses a listed client’s token that carries a person’s sign-in (auth_time, amr, a name)', async () => {
      for (const extra of [{ auth_time: 1_767_000_000 }, { amr: ['pwd'] }, { email: 'a@example.com' }]) {
        const token = await m2m.token({ ...opaque, azp: 'settings-ui-bff', ...extra });
        await resolveKey(trusting.http, token, 'ksk_x').expect(401, UNAUTHORIZED);
      }
    });

    it('never overrides a token that says it is a person’s (an Auth0 password grant)', async () => {
      const token = await m2m.token({ ...opaque, gty: 'password' });
      await resolveKey(trusting.http, token, 'ksk_x').expect(401, UNAUTHORIZED);
    });
  });

  it('a client-credentials token of any shape is refused on session routes (one issuer for both tiers)', async () => {
    // The session tier trusts the M2M issuer here, with its own audience: the shape keeps services out.
    const shared = await suite.boot({
      AUTH_SESSION_JWKS_URI: m2m.jwksUri,
      AUTH_SESSION_ISSUER: m2m.url,
      AUTH_SESSION_AUDIENCE: m2m.audience,
      AUTH_M2M_AUDIENCE: 'keysmith-internal-other',
    });
    for (const { service, person } of PROVIDER_TOKENS) {
      await request(shared.http)
        .get('/api/v1/developer/projects')
        .set('authorization', `Bearer ${await m2m.token(service)}`)
        .expect(401, UNAUTHORIZED);
      if (typeof person.sub === 'string') {
        await request(shared.http)
          .get('/api/v1/developer/projects')
          .set('authorization', `Bearer ${await m2m.token(person)}`)
          .expect(200);
      }
    }
  });
});
