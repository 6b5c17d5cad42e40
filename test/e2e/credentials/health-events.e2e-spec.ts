import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { CREDENTIALS_PATH, requestAccessToken } from 'test/helpers/credentials';
import { m2mToken, sessionBearer } from 'test/helpers/issuers';
import { TestTokenServer } from 'test/helpers/token-server';

const ENCRYPTION_KEY = 'e2e-credential-health-events-0123456789ab';
const CLIENT = { id: 'health-events-client', secret: 'health-events-client-secret-0123' };

interface EventRow {
  type: string;
  data: Record<string, unknown>;
}

/**
 * API.md "Credential health" and "Events": every change of a credential's status is announced, whatever
 * changed it, the expiry of its client secret included (the list shows `reauthorization_required` then).
 */
describe('credentials: health changes are announced as events', () => {
  const suite = e2eSuite();
  let a: TestApp;
  let server: TestTokenServer;
  let runtime: string;

  beforeAll(async () => {
    server = await TestTokenServer.start({ client: CLIENT });
    a = await suite.boot({ ENCRYPTION_KEY });
    runtime = await m2mToken(suite.m2m, 'health-events-runtime', 'credentials:use');
  });

  afterAll(async () => {
    await server?.stop();
  });

  const deposit = async (sub: string, extra: Record<string, unknown> = {}): Promise<string> => {
    const res = await request(a.http)
      .post(CREDENTIALS_PATH)
      .set('authorization', await sessionBearer(suite.session, sub))
      .send({
        mcpServerId: 'srv',
        refreshToken: server.grant(),
        tokenEndpoint: server.tokenEndpoint,
        clientId: CLIENT.id,
        clientSecret: CLIENT.secret,
        ...extra,
      });
    expect(res.status).toBe(200);
    const [user] = await suite.db.query<{ id: string }>('SELECT id FROM users WHERE external_id = $1', [sub]);
    return user!.id;
  };
  const status = async (sub: string): Promise<string> => {
    const res = await request(a.http)
      .get(CREDENTIALS_PATH)
      .set('authorization', await sessionBearer(suite.session, sub));
    return (res.body as { credentials: { status: string }[] }).credentials[0]!.status;
  };
  const eventsOf = (userId: string): Promise<EventRow[]> =>
    suite.db.query<EventRow>(
      `SELECT type, data FROM events WHERE type LIKE 'credential.%' AND data->>'userId' = $1 ORDER BY occurred_at, id`,
      [userId],
    );

  it('a client secret that expires: reauthorization_required, announced once', async () => {
    const userId = await deposit('he-secret', { clientSecretExpiresAt: '2031-01-01T00:00:00Z' });
    expect((await requestAccessToken(a.http, runtime, { userId, mcpServerId: 'srv' })).status).toBe(200);
    // Time passes: the secret's expiry is now behind us.
    await suite.db.query(
      `UPDATE mcp_oauth_credentials SET client_secret_expires_at = now() - interval '1 minute',
         access_token_enc = NULL, access_token_expires_at = NULL WHERE user_id = $1`,
      [userId],
    );
    expect(await status('he-secret')).toBe('reauthorization_required');
    for (let i = 0; i < 3; i++)
      expect((await requestAccessToken(a.http, runtime, { userId, mcpServerId: 'srv' })).status).toBe(409);
    const events = await eventsOf(userId);
    expect(events.map((e) => e.type)).toEqual(['credential.reauthorization_required']);
    expect(events[0]!.data).toMatchObject({ userId, mcpServerId: 'srv' });
  });

  it('a deposit replacing a credential with an expired client secret: announced once, not again by a call', async () => {
    const userId = await deposit('he-redeposit');
    await deposit('he-redeposit', { clientSecretExpiresAt: '2001-01-01T00:00:00Z' });
    expect(await status('he-redeposit')).toBe('reauthorization_required');
    expect((await requestAccessToken(a.http, runtime, { userId, mcpServerId: 'srv' })).status).toBe(409);
    expect((await eventsOf(userId)).map((e) => e.type)).toEqual(['credential.reauthorization_required']);
  });
});
