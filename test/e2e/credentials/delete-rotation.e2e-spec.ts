import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { CREDENTIALS_PATH, requestAccessToken } from 'test/helpers/credentials';
import { m2mToken, sessionBearer } from 'test/helpers/issuers';
import { TestRevocationServer } from 'test/helpers/revocation-server';
import { TestTokenServer } from 'test/helpers/token-server';
import { eventually } from 'test/helpers/waiting';

const ENCRYPTION_KEY = 'e2e-credential-delete-rotation-0123456789';
const CLIENT = { id: 'delete-rotation-client', secret: 'delete-rotation-client-secret-01' };

/**
 * API.md "Credential health": delete revokes the refresh token upstream. The token revoked must be the one the
 * provider still honours: a refresh that rotates it while the delete is under way (on any instance) must not
 * leave the rotated token alive at the provider after the credential is gone.
 */
describe('credentials: delete during a refresh that rotates the refresh token', () => {
  const suite = e2eSuite();
  let a: TestApp;
  let b: TestApp;
  let server: TestTokenServer;
  let revocation: TestRevocationServer;
  let runtime: string;

  beforeAll(async () => {
    server = await TestTokenServer.start({ client: CLIENT, rotate: true });
    revocation = await TestRevocationServer.start();
    a = await suite.boot({ ENCRYPTION_KEY });
    b = await suite.boot({ ENCRYPTION_KEY });
    runtime = await m2mToken(suite.m2m, 'delete-rotation-runtime', 'credentials:use');
  });

  afterAll(async () => {
    await server?.stop();
    await revocation?.stop();
  });

  it('revokes the refresh token the provider honours when the credential is gone', async () => {
    const sub = 'dr-user';
    const bearer = await sessionBearer(suite.session, sub);
    const deposited = await request(a.http)
      .post(CREDENTIALS_PATH)
      .set('authorization', bearer)
      .send({
        mcpServerId: 'srv',
        refreshToken: server.grant(),
        tokenEndpoint: server.tokenEndpoint,
        clientId: CLIENT.id,
        clientSecret: CLIENT.secret,
        revocationEndpoint: revocation.url('/revoke'),
      });
    expect(deposited.status).toBe(200);
    const [user] = await suite.db.query<{ id: string }>('SELECT id FROM users WHERE external_id = $1', [sub]);

    // A refresh on instance a reaches the provider, which holds its answer (a new refresh token).
    const release = server.hold();
    const before = server.tokenRequests;
    const refreshing = requestAccessToken(a.http, runtime, { userId: user!.id, mcpServerId: 'srv' }).then();
    await eventually(() => server.tokenRequests > before);
    // The user deletes the credential on instance b meanwhile: it gets as far as waiting for the row.
    const deleting = request(b.http).delete(`${CREDENTIALS_PATH}/srv`).set('authorization', bearer).then();
    await eventually(async () => {
      const [row] = await suite.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
          WHERE NOT l.granted AND s.datname = current_database()`,
      );
      return row!.n > 0;
    });
    release();
    expect((await refreshing).status).toBe(200);
    expect((await deleting).status).toBe(204);

    // The refresh committed a rotated refresh token; the delete then removed the row holding it. Whatever
    // was revoked, no refresh token the provider still honours may be left unrevoked.
    const revoked = new Set(revocation.seen.map((s) => s.token));
    const live = server.issued.filter((t) => server.accepts(t));
    expect(live).toHaveLength(1);
    expect(live.filter((t) => !revoked.has(t))).toEqual([]);
  });
});
