import request from 'supertest';
import { hashApiKey } from 'src/api-keys/api-key-format';
import { RevocationFeed } from 'src/database/revocation-feed';
import { MIGRATIONS } from 'migrations/index';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { depositCredential, requestAccessToken, type AccessTokenAnswer } from 'test/helpers/credentials';
import type { TestDatabase } from 'test/helpers/database';
import { mintOrgToken, provision } from 'test/helpers/factories';
import { FakeProvider } from 'test/helpers/fake-provider';
import { FULL_ADMIN_TOKEN, fullEnv } from 'test/helpers/full-app';
import { INVALID_API_KEY, resolveKey, UNAUTHORIZED } from 'test/helpers/http';
import { m2mToken, sessionBearer } from 'test/helpers/issuers';
import { completeLogin, followRedirect, oauthEnv, poll, startLogin } from 'test/helpers/oauth';
import { describeWithPgBouncer, PgBouncer } from 'test/helpers/pgbouncer';
import { TestTokenServer } from 'test/helpers/token-server';
import { concurrently, eventually } from 'test/helpers/waiting';

const ROUNDS = 10;

/**
 * keysmith behind Debian's PgBouncer in transaction mode (decision 0103): DATABASE_URL is the pooler,
 * DATABASE_LISTEN_URL the server itself. Two instances, as behind a load balancer: every guarantee that rests
 * on the database (a revocation on one instance refused on the other at once, one live key per provisioned
 * user, one redeem per OAuth session, one refresh per credential) holds when any query may run on any server
 * connection. Named statements, session locks and session SETs would break here; none is left.
 */
describeWithPgBouncer('behind PgBouncer in transaction mode', (binary) => {
  let bouncer: PgBouncer;

  beforeAll(async () => {
    bouncer = await PgBouncer.start(binary, process.env.KEYSMITH_TEST_PG_URL!);
  });

  afterAll(async () => {
    await bouncer?.stop();
  });

  /** `db` as the app sees it through PgBouncer (the test itself keeps querying the server directly). */
  const pooled = (db: TestDatabase): TestDatabase => ({ ...db, url: bouncer.urlFor(db.url) });

  describe('two instances with DATABASE_LISTEN_URL', () => {
    const suite = e2eSuite();
    let a: TestApp;
    let b: TestApp;
    let acme: FakeProvider;
    let tokens: TestTokenServer;
    const secrets: string[] = [];

    beforeAll(async () => {
      acme = await FakeProvider.start();
      tokens = await TestTokenServer.start({
        client: { id: 'pooled-client', secret: 'pooled-client-secret' },
      });
      const env = {
        ...fullEnv(suite.m2m, suite.session),
        ...oauthEnv(suite.session, [acme.entry('acme', 'Acme Billing')]),
        DATABASE_LISTEN_URL: suite.db.url,
      };
      a = await suite.start(env, { db: pooled(suite.db) });
      b = await suite.start(env, { db: pooled(suite.db) });
      await eventually(() => a.app.get(RevocationFeed).listening && b.app.get(RevocationFeed).listening);
    });

    afterAll(async () => {
      expect(a.logs.leaked([...secrets, FULL_ADMIN_TOKEN])).toEqual([]);
      await tokens?.stop();
      await acme?.stop();
    });

    it('applied every migration through the pooler, once', async () => {
      const applied = await suite.db.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
      expect(applied).toHaveLength(MIGRATIONS.length);
    });

    it('an API key replaced on one instance is refused by the other on the next call, round after round', async () => {
      const provisioner = await m2mToken(suite.m2m, 'provisioner', 'provision:apikey');
      const resolver = await m2mToken(suite.m2m, 'gateway', 'apikeys:resolve');
      for (let round = 0; round < ROUNDS; round++) {
        const first = await provision(a.http, provisioner, { externalId: 'pooled-across' });
        secrets.push(first.apiKey);
        await resolveKey(b.http, resolver, first.apiKey).expect(200);
        await resolveKey(b.http, resolver, first.apiKey).expect(200); // from b's cache
        const second = await provision(a.http, provisioner, { externalId: 'pooled-across' });
        secrets.push(second.apiKey);
        await resolveKey(b.http, resolver, first.apiKey).expect(401, INVALID_API_KEY);
      }
    });

    it('an org token revoked on one instance is refused by the other on the next request', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const { id, token } = await mintOrgToken(a.http, `Bearer ${FULL_ADMIN_TOKEN}`, {
          name: `pooled ${round}`,
        });
        secrets.push(token);
        const whoami = () =>
          request(b.http).get('/api/v1/admin/whoami').set('authorization', `Bearer ${token}`);
        await whoami().expect(200);
        await whoami().expect(200);
        await request(a.http)
          .delete(`/api/v1/org/tokens/${id}`)
          .set('authorization', `Bearer ${FULL_ADMIN_TOKEN}`)
          .expect(200);
        await whoami().expect(401, UNAUTHORIZED);
      }
    });

    it('twenty concurrent provisions for one user over both instances leave one live key; resolves hold up', async () => {
      const provisioner = await m2mToken(suite.m2m, 'burst-client', 'provision:apikey');
      const resolver = await m2mToken(suite.m2m, 'gateway', 'apikeys:resolve');
      const results = await concurrently(20, (i) =>
        request(i % 2 ? a.http : b.http)
          .post('/api/v1/internal/provision-apikey')
          .set('authorization', `Bearer ${provisioner}`)
          .send({ externalId: 'pooled-burst', email: 'pooled-burst@example.com', orgId: 'org-allowed' })
          .then((r) => r),
      );
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
      const keys = results.map((r) => (r.body as { apiKey: string }).apiKey);
      secrets.push(...keys);
      const live = await suite.db.query<{ key_hash: string }>(
        `SELECT k.key_hash FROM api_keys k JOIN users u ON u.id = k.user_id
          WHERE u.external_id = 'pooled-burst' AND k.revoked_at IS NULL`,
      );
      expect(live).toHaveLength(1);
      const winner = keys.find((key) => hashApiKey(key) === live[0]!.key_hash)!;
      // Many concurrent lookups (the hot path's statement) over every server connection of the pool.
      const answers = await concurrently(60, (i) =>
        resolveKey(i % 2 ? a.http : b.http, resolver, i % 3 ? winner : keys.find((k) => k !== winner)).then(
          (r) => r.status,
        ),
      );
      expect(answers.filter((s) => s === 200)).toHaveLength(40);
      expect(answers.filter((s) => s === 401)).toHaveLength(20);
    });

    it('twenty concurrent polls over both instances: exactly one carries the provider key', async () => {
      const frank = await sessionBearer(suite.session, 'pooled-frank');
      const login = await startLogin(a.http, frank, 'acme');
      const issued = await completeLogin(b.http, acme, login.authUrl);
      secrets.push(issued.apiKey);
      const answers = await concurrently(20, (i) =>
        poll(i % 2 ? a.http : b.http, frank, 'acme', login.loginSessionId, issued.completionCode),
      );
      const bodies = answers.map((r) => r.body as { status: string; apiKey?: string });
      expect(bodies.filter((x) => x.apiKey === issued.apiKey)).toHaveLength(1);
      expect(bodies.filter((x) => x.status === 'redeemed')).toHaveLength(19);
    });

    it('two callbacks racing on two instances: one exchange, one success', async () => {
      const frank = await sessionBearer(suite.session, 'pooled-frank');
      const login = await startLogin(a.http, frank, 'acme');
      const issued = acme.login(login.authUrl);
      secrets.push(issued.apiKey);
      const calls = acme.exchanges.length;
      const pages = await Promise.all([
        followRedirect(a.http, issued.redirect),
        followRedirect(b.http, issued.redirect),
      ]);
      expect(pages.map((p) => p.status).sort()).toEqual([200, 400]);
      expect(acme.exchanges.length).toBe(calls + 1);
    });

    it('ten concurrent access-token calls over both instances make one refresh', async () => {
      const runtime = await m2mToken(suite.m2m, 'mcp-runtime', 'credentials:use');
      const refreshToken = tokens.grant();
      secrets.push(refreshToken);
      await depositCredential(a.http, await sessionBearer(suite.session, 'pooled-cred'), {
        mcpServerId: 'pooled-server',
        refreshToken,
        tokenEndpoint: tokens.tokenEndpoint,
        clientId: 'pooled-client',
        clientSecret: 'pooled-client-secret',
      });
      const [{ id: userId }] = (await suite.db.query<{ id: string }>(
        "SELECT id FROM users WHERE external_id = 'pooled-cred'",
      )) as [{ id: string }];
      const lockWaiters = async (): Promise<number> =>
        Number(
          (
            await suite.db.query<{ n: string }>(
              `SELECT count(*) AS n FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock'`,
            )
          )[0]!.n,
        );
      const release = tokens.hold();
      const calls = Array.from({ length: 10 }, (_, i) =>
        requestAccessToken(i % 2 ? a.http : b.http, runtime, { userId, mcpServerId: 'pooled-server' }).then(
          (r) => r,
        ),
      );
      await eventually(async () => tokens.tokenRequests === 1 && (await lockWaiters()) >= 1);
      release();
      const results = await Promise.all(calls);
      expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
      const issued = new Set(results.map((r) => (r.body as AccessTokenAnswer).accessToken));
      secrets.push(...issued);
      expect(issued.size).toBe(1);
      expect(tokens.tokenRequests).toBe(1);
    });

    it('two instances starting together on an empty database through the pooler apply the migrations once', async () => {
      const fresh = await suite.database();
      const env = { ...fullEnv(suite.m2m, suite.session), DATABASE_LISTEN_URL: fresh.url };
      await Promise.all([suite.start(env, { db: pooled(fresh) }), suite.start(env, { db: pooled(fresh) })]);
      const applied = await fresh.query<{ name: string }>('SELECT name FROM migrations');
      expect(applied).toHaveLength(MIGRATIONS.length);
    });
  });

  describe('without DATABASE_LISTEN_URL', () => {
    const suite = e2eSuite();
    /** A PgBouncer that lets statement_timeout through (ignores it), as many configurations do. */
    let lenient: PgBouncer;

    beforeAll(async () => {
      lenient = await PgBouncer.start(binary, process.env.KEYSMITH_TEST_PG_URL!, {
        ignoreStartupParameters: ['statement_timeout'],
      });
    });

    afterAll(async () => {
      await lenient?.stop();
    });

    it('a default PgBouncer refuses the pool’s startup parameters: the start fails and says what to set', async () => {
      await expect(suite.start(fullEnv(suite.m2m, suite.session), { db: pooled(suite.db) })).rejects.toThrow(
        /DATABASE_LISTEN_URL/,
      );
    });

    it('the feed refuses a pooled connection loudly, and every credential is checked in the database', async () => {
      const direct = await suite.start(fullEnv(suite.m2m, suite.session));
      const deaf = await suite.start(fullEnv(suite.m2m, suite.session), {
        db: { ...suite.db, url: lenient.urlFor(suite.db.url) },
      });
      await eventually(() => deaf.logs.text().includes('revocation listener refused its connection'));
      expect(deaf.logs.text()).toContain('set DATABASE_LISTEN_URL');
      expect(deaf.app.get(RevocationFeed).listening).toBe(false);
      const metrics = await request(deaf.http).get('/metrics').expect(200);
      expect(metrics.text).toMatch(/^keysmith_revocation_feed_listening 0$/m);

      // Never deaf: a key revoked on another instance is refused here at once (nothing is cached).
      const provisioner = await m2mToken(suite.m2m, 'provisioner', 'provision:apikey');
      const resolver = await m2mToken(suite.m2m, 'gateway', 'apikeys:resolve');
      for (let round = 0; round < 3; round++) {
        const first = await provision(direct.http, provisioner, { externalId: 'pooled-deaf' });
        await resolveKey(deaf.http, resolver, first.apiKey).expect(200);
        await resolveKey(deaf.http, resolver, first.apiKey).expect(200);
        await provision(direct.http, provisioner, { externalId: 'pooled-deaf' });
        await resolveKey(deaf.http, resolver, first.apiKey).expect(401, INVALID_API_KEY);
      }
    });
  });
});
