import { OAuthSessionsPurger, PURGE_LOCK_KEY } from 'src/oauth-sessions/oauth-sessions-purger';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { FakeProvider } from 'test/helpers/fake-provider';
import {
  completeLogin,
  followRedirect,
  oauthEnv,
  poll,
  startLogin,
  type StartedLogin,
} from 'test/helpers/oauth';
import { secretsInTables } from 'test/helpers/table-scan';
import { sessionBearer, TestIssuer } from 'test/helpers/issuers';
import { eventually } from 'test/helpers/waiting';

/**
 * Expiry (a short OAUTH_SESSION_TTL_SECONDS, or a session's expiry moved into the past, as a clock would)
 * and the purge.
 */
describe('provider OAuth handoff: expiry and purge', () => {
  const suite = e2eSuite({ issuers: false });
  let issuer: TestIssuer;
  let acme: FakeProvider;
  /** Default TTL and retention. */
  let t: TestApp;
  /** OAUTH_SESSION_TTL_SECONDS=1. */
  let short: TestApp;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    issuer = await TestIssuer.start('keysmith-ui');
    acme = await FakeProvider.start();
    t = await boot();
    short = await boot({ OAUTH_SESSION_TTL_SECONDS: '1' });
  });

  afterAll(async () => {
    for (const app of apps.reverse()) await app.close();
    await acme?.stop();
    await issuer?.stop();
  });

  async function boot(env: Record<string, string> = {}): Promise<TestApp> {
    const app = await suite.start({ ...oauthEnv(issuer, [acme.entry('acme', 'Acme Billing')]), ...env });
    apps.push(app);
    return app;
  }

  const bearer = (): Promise<string> => sessionBearer(issuer, 'erin');
  const status = async (id: string): Promise<{ status: string; provider_key: Buffer | null } | undefined> =>
    (
      await suite.db.query<{ status: string; provider_key: Buffer | null }>(
        'SELECT status, provider_key FROM oauth_sessions WHERE id = $1',
        [id],
      )
    )[0];
  /** Waits until the database's clock is past the session's expiry (no fixed sleep). */
  const untilExpired = (login: StartedLogin): Promise<void> =>
    eventually(
      async () =>
        (
          await suite.db.query<{ expired: boolean }>(
            'SELECT expires_at <= now() AS expired FROM oauth_sessions WHERE id = $1',
            [login.loginSessionId],
          )
        )[0]!.expired,
    );
  /** Moves the session's expiry `seconds` into the past. */
  const expire = (login: StartedLogin, seconds = 1) =>
    suite.db.query('UPDATE oauth_sessions SET expires_at = now() - make_interval(secs => $2) WHERE id = $1', [
      login.loginSessionId,
      seconds,
    ]);

  it('answers an expired session at the callback with 400, without an exchange, and marks it expired', async () => {
    const login = await startLogin(short.http, await bearer(), 'acme');
    expect(Date.parse(login.expiresAt) - Date.now()).toBeLessThanOrEqual(1000);
    await untilExpired(login);
    const issued = acme.login(login.authUrl);
    const calls = acme.exchanges.length;
    const page = await followRedirect(short.http, issued.redirect);
    expect(page.status).toBe(400);
    expect(page.text).toContain('expired');
    expect(acme.exchanges.length).toBe(calls);
    expect(await status(login.loginSessionId)).toEqual({ status: 'expired', provider_key: null });
    expect((await poll(short.http, await bearer(), 'acme', login.loginSessionId)).body).toEqual({
      status: 'expired',
    });
    // Still expired (never "already used") on a second try.
    expect((await followRedirect(t.http, issued.redirect)).text).toContain('expired');
  });

  it('reports a pending session past its expiry as expired, and marks it', async () => {
    const login = await startLogin(short.http, await bearer(), 'acme');
    await untilExpired(login);
    const res = await poll(short.http, await bearer(), 'acme', login.loginSessionId);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ status: 'expired' });
    expect((await status(login.loginSessionId))!.status).toBe('expired');
  });

  it('erases a key nobody redeemed before the expiry: the poll says expired', async () => {
    const login = await startLogin(t.http, await bearer(), 'acme');
    const issued = acme.login(login.authUrl);
    expect((await followRedirect(t.http, issued.redirect)).status).toBe(200);
    await expire(login);
    expect((await poll(t.http, await bearer(), 'acme', login.loginSessionId)).body).toEqual({
      status: 'expired',
    });
    expect(await status(login.loginSessionId)).toEqual({ status: 'expired', provider_key: null });
  });

  describe('purge', () => {
    it('marks live sessions past expiry expired (keys erased), deletes those past the retention, keeps the rest', async () => {
      const erin = await bearer();
      const pending = await startLogin(t.http, erin, 'acme');
      const live = await startLogin(t.http, erin, 'acme');
      const complete = await startLogin(t.http, erin, 'acme');
      const completed = acme.login(complete.authUrl);
      expect((await followRedirect(t.http, completed.redirect)).status).toBe(200);
      const redeemed = await startLogin(t.http, erin, 'acme');
      const { completionCode } = await completeLogin(t.http, acme, redeemed.authUrl);
      expect((await poll(t.http, erin, 'acme', redeemed.loginSessionId, completionCode)).body).toMatchObject({
        status: 'complete',
      });
      await expire(pending);
      await expire(complete);
      // Expired two hours ago: past the default retention (one hour).
      await expire(redeemed, 7200);

      const result = await t.app.get(OAuthSessionsPurger).purge();
      expect(result).toEqual({ skipped: false, expired: expect.any(Number), deleted: expect.any(Number) });
      expect(result.expired).toBeGreaterThanOrEqual(2);
      expect(await status(pending.loginSessionId)).toEqual({ status: 'expired', provider_key: null });
      expect(await status(complete.loginSessionId)).toEqual({ status: 'expired', provider_key: null });
      expect(await status(redeemed.loginSessionId)).toBeUndefined();
      expect((await status(live.loginSessionId))!.status).toBe('pending');
      expect(await secretsInTables(suite.db, [completed.apiKey])).toEqual([]);
      // Within the retention the poll can still say what happened.
      expect((await poll(t.http, erin, 'acme', complete.loginSessionId)).body).toEqual({ status: 'expired' });
      // Deleted: not found.
      expect((await poll(t.http, erin, 'acme', redeemed.loginSessionId)).status).toBe(404);
    });

    it('runs on one instance at a time: while another holds the lock, a purge skips without waiting', async () => {
      const login = await startLogin(t.http, await bearer(), 'acme');
      await expire(login);
      await suite.db.query('SELECT pg_advisory_lock($1)', [PURGE_LOCK_KEY]);
      try {
        const [a, b] = await Promise.all([
          t.app.get(OAuthSessionsPurger).purge(),
          short.app.get(OAuthSessionsPurger).purge(),
        ]);
        expect([a, b]).toEqual([
          { skipped: true, expired: 0, deleted: 0 },
          { skipped: true, expired: 0, deleted: 0 },
        ]);
        expect((await status(login.loginSessionId))!.status).toBe('pending');
        // Requests are not held up by a purge lock.
        expect((await poll(t.http, await bearer(), 'acme', login.loginSessionId)).body).toEqual({
          status: 'expired',
        });
      } finally {
        await suite.db.query('SELECT pg_advisory_unlock($1)', [PURGE_LOCK_KEY]);
      }
      expect((await t.app.get(OAuthSessionsPurger).purge()).skipped).toBe(false);
    });

    it('runs on its own on a schedule (OAUTH_SESSION_PURGE_INTERVAL_SECONDS)', async () => {
      const login = await startLogin(t.http, await bearer(), 'acme');
      await expire(login);
      await boot({ OAUTH_SESSION_PURGE_INTERVAL_SECONDS: '1', OAUTH_SESSION_RETENTION_SECONDS: '0' });
      await eventually(async () => (await status(login.loginSessionId)) === undefined, 400);
    });
  });
});
