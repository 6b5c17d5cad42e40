import { Client } from 'pg';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { depositCredential, requestAccessToken, type AccessTokenAnswer } from 'test/helpers/credentials';
import { TestTokenServer } from 'test/helpers/token-server';
import { eventually } from 'test/helpers/waiting';
import { m2mToken, sessionBearer } from 'test/helpers/issuers';
import { errorShape } from 'test/helpers/http';

const ENCRYPTION_KEY = 'e2e-instances-master-secret-0123456789ab';

/**
 * Two instances on one database, as behind a load balancer: concurrent access-token calls for one credential
 * on both still make one refresh. The token server rotates refresh tokens, so a second refresh would present
 * a retired token and fail with invalid_grant: only the row lock, and the re-read after it, prevent that.
 */
describe('access tokens across two instances', () => {
  const suite = e2eSuite();
  let a: TestApp;
  let b: TestApp;
  let server: TestTokenServer;
  let runtime: string;

  beforeAll(async () => {
    server = await TestTokenServer.start({ client: { id: 'shared-client', secret: 'shared-client-secret' } });
    a = await suite.boot({ ENCRYPTION_KEY });
    b = await suite.boot({ ENCRYPTION_KEY });
    runtime = await m2mToken(suite.m2m, 'mcp-runtime', 'credentials:use');
  });

  afterAll(async () => {
    await server?.stop();
  });

  /** Sessions waiting on a row lock in this file's database. */
  const lockWaiters = async (): Promise<number> =>
    Number(
      (
        await suite.db.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        )
      )[0]!.n,
    );

  async function depositFor(sub: string): Promise<string> {
    await depositCredential(a.http, await sessionBearer(suite.session, sub), {
      mcpServerId: 'shared-server',
      refreshToken: server.grant(),
      tokenEndpoint: server.tokenEndpoint,
      clientId: 'shared-client',
      clientSecret: 'shared-client-secret',
    });
    return (await suite.db.query<{ id: string }>('SELECT id FROM users WHERE external_id = $1', [sub]))[0]!
      .id;
  }

  it('makes one refresh for ten concurrent calls split over two instances; the waiter uses the stored token', async () => {
    const userId = await depositFor('u-pair');
    const release = server.hold();
    const calls = Array.from({ length: 10 }, (_, i) =>
      requestAccessToken(i % 2 === 0 ? a.http : b.http, runtime, {
        userId,
        mcpServerId: 'shared-server',
      }).then((r) => r),
    );
    // One instance is refreshing (held at the token server) while the other waits for the row lock.
    await eventually(async () => server.tokenRequests === 1 && (await lockWaiters()) >= 1);
    release();
    const results = await Promise.all(calls);
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(new Set(results.map((r) => (r.body as AccessTokenAnswer).accessToken)).size).toBe(1);
    expect(server.tokenRequests).toBe(1);
  });

  it('refreshes again, once, when the cached token is about to expire', async () => {
    const userId = await depositFor('u-pair-2');
    await requestAccessToken(a.http, runtime, { userId, mcpServerId: 'shared-server' }).expect(200);
    await suite.db.query(
      `UPDATE mcp_oauth_credentials SET access_token_expires_at = now() + interval '10 seconds' WHERE user_id = $1`,
      [userId],
    );
    const before = server.tokenRequests;
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        requestAccessToken(i % 2 ? a.http : b.http, runtime, { userId, mcpServerId: 'shared-server' }).then(
          (r) => r,
        ),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(server.tokenRequests).toBe(before + 1);
  });

  it('bounds the wait for a row lock: 503 service_unavailable with Retry-After, nothing changed', async () => {
    // An instance with a short refresh timeout waits at most that plus 5 s for the lock.
    const quick = await suite.boot({ ENCRYPTION_KEY, CREDENTIALS_REFRESH_TIMEOUT_MS: '300' });
    const userId = await depositFor('u-locked');
    const holder = new Client({ connectionString: suite.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM mcp_oauth_credentials WHERE user_id = $1 FOR UPDATE', [userId]);
      const before = server.tokenRequests;
      const res = await requestAccessToken(quick.http, runtime, { userId, mcpServerId: 'shared-server' });
      expect(res.status).toBe(503);
      expect(res.body).toEqual(errorShape('service_unavailable', 503));
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(server.tokenRequests).toBe(before);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect(
      (await requestAccessToken(quick.http, runtime, { userId, mcpServerId: 'shared-server' })).status,
    ).toBe(200);
  });
});
