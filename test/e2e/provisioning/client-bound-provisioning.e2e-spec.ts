import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { ALLOWED_ORG, m2mToken } from 'test/helpers/issuers';
import { resolveKey } from 'test/helpers/http';

const PROVISION = '/api/v1/internal/provision-apikey';
const OTHER_ORG = 'org-other';

/**
 * Issue 12, item 7: the org allowlist checked a field the caller sends; any token with provision:apikey could
 * mint a key for any user, revoke that user's settings-UI keys under the same label, and overwrite their email
 * and name. Now the org is bound to the client (PROVISION_CLIENTS), provisioning revokes only what it minted,
 * and writes only the profile of a user it created for an org the client serves.
 */
describe('provisioning bound to the client', () => {
  const suite = e2eSuite();
  let t: TestApp;
  let clientA: string;
  let clientB: string;
  let stranger: string;
  let resolver: string;
  const secrets: string[] = [];

  beforeAll(async () => {
    // internalEnv allows org-allowed and org-other; each client gets one of them.
    t = await suite.boot({ PROVISION_CLIENTS: `client-a:${ALLOWED_ORG}, client-b:${OTHER_ORG}` });
    clientA = await m2mToken(suite.m2m, 'client-a', 'provision:apikey');
    clientB = await m2mToken(suite.m2m, 'client-b', 'provision:apikey');
    stranger = await m2mToken(suite.m2m, 'client-unlisted', 'provision:apikey');
    resolver = await m2mToken(suite.m2m, 'gateway', 'apikeys:resolve');
  });

  afterAll(() => {
    expect(t.logs.leaked(secrets)).toEqual([]);
  });

  const provision = async (token: string, body: Record<string, unknown>): Promise<request.Response> => {
    const res = await request(t.http)
      .post(PROVISION)
      .set('authorization', `Bearer ${token}`)
      .send({ email: 'svc@example.com', orgId: ALLOWED_ORG, ...body });
    if (res.status === 200) secrets.push((res.body as { apiKey: string }).apiKey);
    return res;
  };
  const userRow = async (externalId: string) =>
    (
      await suite.db.query<{ email: string | null; name: string | null; provisioned_org_id: string | null }>(
        'SELECT email, name, provisioned_org_id FROM users WHERE external_id = $1',
        [externalId],
      )
    )[0];

  describe('the org is bound to the client', () => {
    it('refuses an allowed org the client is not bound to, and a client bound to none, with the one 403', async () => {
      for (const [token, orgId] of [
        [clientA, OTHER_ORG],
        [clientB, ALLOWED_ORG],
        [stranger, ALLOWED_ORG],
        [stranger, OTHER_ORG],
      ] as const) {
        const res = await provision(token, { externalId: 'bound-user', orgId });
        expect({ status: res.status, body: res.body as unknown }).toEqual({
          status: 403,
          body: {
            error: {
              type: 'forbidden',
              status: 403,
              message: 'This organization may not provision API keys.',
            },
          },
        });
      }
      expect(await userRow('bound-user')).toBeUndefined();
    });

    it('serves each client its own org', async () => {
      expect((await provision(clientA, { externalId: 'a-user', orgId: ALLOWED_ORG })).status).toBe(200);
      expect((await provision(clientB, { externalId: 'b-user', orgId: OTHER_ORG })).status).toBe(200);
    });
  });

  describe('only keys provisioning minted are revoked', () => {
    it('leaves a settings-UI user’s keys alone, whatever their label', async () => {
      const jwt = await suite.session.token({ sub: 'ui-user' });
      const ui = await request(t.http)
        .post('/api/v1/developer/keys')
        .set('authorization', `Bearer ${jwt}`)
        .send({ label: 'provisioned' })
        .expect(201);
      const uiKey = (ui.body as { secret: string }).secret;
      secrets.push(uiKey);

      const first = await provision(clientA, { externalId: 'ui-user', keyName: 'provisioned' });
      const second = await provision(clientA, { externalId: 'ui-user', keyName: 'provisioned' });
      expect([first.status, second.status]).toEqual([200, 200]);
      await resolveKey(t.http, resolver, uiKey).expect(200);
      await resolveKey(t.http, resolver, (first.body as { apiKey: string }).apiKey).expect(401);
      await resolveKey(t.http, resolver, (second.body as { apiKey: string }).apiKey).expect(200);

      const origins = await suite.db.query<{ origin: string; live: boolean }>(
        `SELECT k.origin, k.revoked_at IS NULL AS live FROM api_keys k JOIN users u ON u.id = k.user_id
          WHERE u.external_id = 'ui-user' ORDER BY k.created_at`,
      );
      expect(origins).toEqual([
        { origin: 'minted', live: true },
        { origin: 'provisioned', live: false },
        { origin: 'provisioned', live: true },
      ]);
    });
  });

  describe('profiles', () => {
    it('never rewrites a settings-UI user’s email or name, which resolve hands downstream', async () => {
      const jwt = await suite.session.token({ sub: 'ui-profile' });
      await request(t.http)
        .get('/api/v1/developer/projects')
        .set('authorization', `Bearer ${jwt}`)
        .expect(200);
      const res = await provision(clientA, {
        externalId: 'ui-profile',
        email: 'attacker@evil.example',
        name: 'Mallory',
      });
      expect(res.status).toBe(200);
      expect(await userRow('ui-profile')).toEqual({ email: null, name: null, provisioned_org_id: null });
      const resolved = await resolveKey(t.http, resolver, (res.body as { apiKey: string }).apiKey).expect(
        200,
      );
      expect((resolved.body as { user: { email: unknown } }).user.email).toBeNull();
      const [audit] = await suite.db.query<{ metadata: { profile: string } }>(
        `SELECT metadata FROM audit_events WHERE action = 'api_key.provisioned' AND metadata->>'externalId' = 'ui-profile'`,
      );
      expect(audit!.metadata.profile).toBe('kept');
    });

    it('writes the profile of a user it created, later only for a client serving that user’s org', async () => {
      await provision(clientA, { externalId: 'prov-profile', email: 'ada@example.com', name: 'Ada' });
      expect(await userRow('prov-profile')).toEqual({
        email: 'ada@example.com',
        name: 'Ada',
        provisioned_org_id: ALLOWED_ORG,
      });
      await provision(clientA, { externalId: 'prov-profile', email: 'ada@new.example', name: 'Ada L.' });
      expect(await userRow('prov-profile')).toMatchObject({ email: 'ada@new.example', name: 'Ada L.' });

      // Another org's client may mint this user a key of its own, but not rewrite who the user is.
      const other = await provision(clientB, {
        externalId: 'prov-profile',
        orgId: OTHER_ORG,
        email: 'takeover@evil.example',
        name: 'Mallory',
      });
      expect(other.status).toBe(200);
      expect(await userRow('prov-profile')).toEqual({
        email: 'ada@new.example',
        name: 'Ada L.',
        provisioned_org_id: ALLOWED_ORG,
      });
    });
  });
});
