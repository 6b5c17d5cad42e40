import { generateKeyPairSync } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import request from 'supertest';
import { parseApiKey } from 'src/api-keys/api-key-format';
import { OrgTokensService } from 'src/org-tokens/org-tokens.service';
import { checksumOf } from 'src/crypto/checksum';
import { e2eSuite, testSigningKey, type TestApp } from 'test/helpers/app';
import type { TestDatabase } from 'test/helpers/database';
import { apiKey, expireOrgToken, revokeApiKey } from 'test/helpers/factories';
import { UNAUTHORIZED } from 'test/helpers/http';
import { sessionEnv, TestIssuer } from 'test/helpers/issuers';
import type { LogCapture } from 'test/helpers/log-capture';
import { spyOnQueries } from 'test/helpers/query-spy';
import { controllerRoutes } from 'test/helpers/routes';

const ADMIN_TOKEN = 'break-glass-admin-token-for-admin-auth-tests';
const ORG = 'org-admins';
const WHOAMI = '/api/v1/admin/whoami';

/** Base64url JSON segment, for hand-built tokens a real library refuses to produce. */
const seg = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');

interface Minted {
  id: string;
  prefix: string;
  token: string;
}

describe('AdminAuth: the tiers, their order and one 401 for every failure', () => {
  const suite = e2eSuite({ issuers: false });
  let issuer: TestIssuer;
  let foreign: TestIssuer;
  const apps: TestApp[] = [];
  const secrets: string[] = [ADMIN_TOKEN];
  // Every app of this file logs into one capture (test/helpers/app.ts); assertions read it from a mark.
  let logs: LogCapture | undefined;
  const logMark = (): number => logs?.lines.length ?? 0;
  const logsSince = (mark = 0): string => (logs?.lines.slice(mark) ?? []).join('\n');
  const leaked = (): string[] => secrets.filter((secret) => logsSince().includes(secret));

  async function boot(env: Record<string, string>, database?: TestDatabase): Promise<TestApp> {
    const t = await suite.start(env, { db: database });
    apps.push(t);
    logs = t.logs;
    return t;
  }

  const whoami = (t: TestApp, credential?: string) => {
    const req = request(t.http).get(WHOAMI);
    return credential === undefined ? req : req.set('authorization', `Bearer ${credential}`);
  };

  async function mint(t: TestApp, credential: string, body: object = {}): Promise<Minted> {
    const res = await request(t.http)
      .post('/api/v1/org/tokens')
      .set('authorization', `Bearer ${credential}`)
      .send(body)
      .expect(201);
    secrets.push((res.body as Minted).token);
    return res.body as Minted;
  }

  /**
   * A developer's API key (a user of its own each time), minted through `t`; revoked too if asked. With
   * `adminOrgId`, the key is minted from a session of that org (an org admin's session when ORG_ID is it).
   */
  let owners = 0;
  async function newApiKey(
    t: TestApp,
    opts: { revoked?: boolean; adminOrgId?: string } = {},
  ): Promise<string> {
    const { secret } = await apiKey(t.app, `api-key-owner-${++owners}`, {}, { orgId: opts.adminOrgId });
    secrets.push(secret);
    if (opts.revoked) await revokeApiKey(t.app, parseApiKey(secret)!.keyId);
    return secret;
  }

  beforeAll(async () => {
    issuer = await TestIssuer.start('keysmith-ui');
    foreign = await TestIssuer.start('keysmith-ui');
  });

  suite.beforeTeardown(async () => {
    for (const t of apps) {
      await t.app.get(OrgTokensService).settle();
      await t.close();
    }
    expect(leaked()).toEqual([]);
  });

  afterAll(async () => {
    await issuer?.stop();
    await foreign?.stop();
  });

  describe('with ADMIN_TOKEN, sessions and ORG_ID configured', () => {
    let t: TestApp;
    let orgToken: Minted;
    let revoked: Minted;
    let expired: Minted;

    beforeAll(async () => {
      t = await boot({ ...sessionEnv(issuer), ADMIN_TOKEN, ORG_ID: ORG });
      orgToken = await mint(t, ADMIN_TOKEN, { name: 'live' });
      revoked = await mint(t, ADMIN_TOKEN, { name: 'revoked' });
      expired = await mint(t, ADMIN_TOKEN, { name: 'expired' });
      await request(t.http)
        .delete(`/api/v1/org/tokens/${revoked.id}`)
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .expect(200);
      await expireOrgToken(suite.db, expired.id);
    });

    it('tier 1: a session JWT of an org admin → session:<sub>', async () => {
      const jwt = await issuer.token({ sub: 'alice', org_id: ORG });
      await whoami(t, jwt).expect(200, { tier: 'session', actor: 'session:alice', scopes: ['admin'] });
    });

    it('tier 2: a live org token → org-token:<prefix>', async () => {
      await whoami(t, orgToken.token).expect(200, {
        tier: 'org_token',
        actor: `org-token:${orgToken.prefix}`,
        scopes: ['admin'],
      });
    });

    it('tier 3: ADMIN_TOKEN → admin-token', async () => {
      await whoami(t, ADMIN_TOKEN).expect(200, {
        tier: 'admin_token',
        actor: 'admin-token',
        scopes: ['admin'],
      });
    });

    it('a valid session still passes when the user’s org token is revoked; the revoked token does not', async () => {
      const jwt = await issuer.token({ sub: 'bob', org_id: ORG });
      await whoami(t, revoked.token).expect(401, UNAUTHORIZED);
      await whoami(t, jwt).expect(200, { tier: 'session', actor: 'session:bob', scopes: ['admin'] });
    });

    it('a bad session JWT is refused even though ADMIN_TOKEN is configured, which still works', async () => {
      const bad = await foreign.token({ sub: 'mallory', org_id: ORG, iss: issuer.url });
      await whoami(t, bad).expect(401, UNAUTHORIZED);
      await whoami(t, ADMIN_TOKEN).expect(200, {
        tier: 'admin_token',
        actor: 'admin-token',
        scopes: ['admin'],
      });
    });

    it('the deprecated API-key tier is off unless its flag is set', async () => {
      const key = await newApiKey(t);
      await whoami(t, key).expect(401, UNAUTHORIZED);
    });

    it('answers every failure with the same 401 status, body and headers', async () => {
      const now = Math.floor(Date.now() / 1000);
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const unknownBody = `kso_${'Q'.repeat(32)}`;
      const typo =
        orgToken.token.slice(0, 8) + (orgToken.token[8] === 'x' ? 'y' : 'x') + orgToken.token.slice(9);
      const failures: [string, string | undefined][] = [
        ['no credential', undefined],
        ['empty bearer', ''],
        ['garbage', 'hello'],
        ['oversized garbage', 'x'.repeat(8000)],
        ['wrong ADMIN_TOKEN', `${ADMIN_TOKEN}x`],
        ['ADMIN_TOKEN prefix', ADMIN_TOKEN.slice(0, -1)],
        ['org token with a checksum typo', typo],
        ['unknown well-formed org token', unknownBody + checksumOf(unknownBody)],
        ['revoked org token', revoked.token],
        ['expired org token', expired.token],
        ['session of another org', await issuer.token({ sub: 'eve', org_id: 'org-other' })],
        ['session without org', await issuer.token({ sub: 'eve' })],
        ['expired session', await issuer.token({ sub: 'alice', org_id: ORG }, { expiresIn: -60 })],
        [
          'session signed by a foreign key',
          await foreign.token({ sub: 'alice', org_id: ORG, iss: issuer.url }),
        ],
        [
          'session signed by an unpublished key',
          sign({ sub: 'alice', org_id: ORG, iss: issuer.url, aud: issuer.audience }, privateKey, {
            algorithm: 'RS256',
            keyid: 'made-up',
            expiresIn: 60,
          }),
        ],
        ['session for another audience', await issuer.token({ sub: 'alice', org_id: ORG, aud: 'other-app' })],
        ['session with empty sub', await issuer.token({ sub: '', org_id: ORG })],
        [
          'alg none',
          `${seg({ alg: 'none', typ: 'JWT' })}.${seg({ sub: 'alice', org_id: ORG, iss: issuer.url, aud: issuer.audience, exp: now + 60 })}.`,
        ],
        [
          'an M2M (client-credentials) token',
          await issuer.token({ sub: 'svc@clients', org_id: ORG, gty: 'client-credentials' }),
        ],
        [
          'an M2M token of another issuer',
          await foreign.token({ sub: 'svc@clients', gty: 'client-credentials' }),
        ],
        ['an API key while the API-key tier is off', await newApiKey(t)],
      ];
      const seen = new Set<string>();
      for (const [label, credential] of failures) {
        const res = await whoami(t, credential);
        expect({ label, status: res.status, body: res.body as unknown }).toEqual({
          label,
          status: 401,
          body: UNAUTHORIZED,
        });
        const headers = { ...res.headers };
        for (const volatile of ['date', 'x-request-id', 'x-ratelimit-remaining']) delete headers[volatile];
        seen.add(JSON.stringify(headers));
      }
      // Basic auth and other schemes are refused the same way.
      const basic = await request(t.http).get(WHOAMI).set('authorization', `Basic ${ADMIN_TOKEN}`);
      expect(basic.status).toBe(401);
      expect(basic.body).toEqual(UNAUTHORIZED);
      expect(seen.size).toBe(1);
    });

    it('never accepts a credential from the query string', async () => {
      await request(t.http).get(`${WHOAMI}?access_token=${ADMIN_TOKEN}`).expect(401);
      await request(t.http).get(`${WHOAMI}?token=${orgToken.token}`).expect(401);
    });
  });

  describe('session tier without ORG_ID', () => {
    it('accepts any valid session (no org required)', async () => {
      const t = await boot({ ...sessionEnv(issuer), ADMIN_TOKEN });
      await whoami(t, await issuer.token({ sub: 'carol' })).expect(200, {
        tier: 'session',
        actor: 'session:carol',
        scopes: ['admin'],
      });
      await whoami(t, await issuer.token({ sub: 'dave', org_id: 'any-org' })).expect(200, {
        tier: 'session',
        actor: 'session:dave',
        scopes: ['admin'],
      });
    });
  });

  describe('an M2M token never passes as a session', () => {
    it('a client-credentials token of the configured M2M issuer (no gty) is refused by every admin and session route', async () => {
      const m2m = await TestIssuer.start('keysmith-internal');
      try {
        // Bootstrap closed (ADMIN_TOKEN), the session tier on `issuer`, M2M on its own issuer and audience.
        const t = await boot({
          ...sessionEnv(issuer),
          AUTH_M2M_JWKS_URI: m2m.jwksUri,
          AUTH_M2M_ISSUER: m2m.url,
          AUTH_M2M_AUDIENCE: m2m.audience,
          ADMIN_TOKEN,
        });
        // What an authorization server that sets no `gty` issues for the client-credentials grant.
        const machine = await m2m.token({ sub: 'svc@clients', azp: 'svc', org_id: ORG });
        const routes = controllerRoutes(t).filter(
          (r) => r.auth?.kind === 'admin' || r.auth?.kind === 'session',
        );
        expect(routes.map((r) => r.auth?.kind)).toEqual(expect.arrayContaining(['admin', 'session']));
        for (const route of routes) {
          const url = route.path.replace(/:\w+/g, '3f0c8a4e-8a5b-4c1e-9d2f-0a1b2c3d4e5f');
          const verb = route.method.toLowerCase() as 'get' | 'post' | 'delete' | 'put' | 'patch';
          const res = await request(t.http)[verb](url).set('authorization', `Bearer ${machine}`).send({});
          expect({
            route: `${route.method} ${route.path}`,
            status: res.status,
            body: res.body as unknown,
          }).toEqual({ route: `${route.method} ${route.path}`, status: 401, body: UNAUTHORIZED });
        }
        // The same issuer's token for the session audience, with the session issuer claimed: still refused.
        const forged = await m2m.token({ sub: 'svc@clients', iss: issuer.url, aud: issuer.audience });
        await whoami(t, forged).expect(401, UNAUTHORIZED);
        await t.close();
        apps.splice(apps.indexOf(t), 1);
      } finally {
        await m2m.stop();
      }
    });
  });

  describe('tier 0: bootstrap', () => {
    let bdb: TestDatabase;
    let t: TestApp;
    let startLogs: string;

    beforeAll(async () => {
      bdb = await suite.database();
      const mark = logMark();
      t = await boot({ ...sessionEnv(issuer), ORG_ID: ORG }, bdb);
      startLogs = logsSince(mark);
    });
    afterAll(async () => {
      await t.app.get(OrgTokensService).settle();
      await t.close();
      apps.splice(apps.indexOf(t), 1);
    });

    const auditRows = (database: TestDatabase, requestId: string) =>
      database.query(`SELECT actor, action, target_id FROM audit_events WHERE request_id = $1`, [requestId]);

    it('warns at start', () => {
      expect(startLogs).toMatch(/"level":40.*bootstrap is open/);
    });

    it('is open while no org token has ever existed: any request passes with a warning; writes are audited', async () => {
      const mark = logMark();
      // Rows are found by the request's own id, which the answer carries when the caller sends none.
      const res = await whoami(t).expect(200);
      expect(res.body).toEqual({ tier: 'bootstrap', actor: 'bootstrap', scopes: ['admin'] });
      expect(logsSince(mark)).toMatch(/"level":40.*bootstrap is open/);
      expect(await auditRows(bdb, res.headers['x-request-id'] as string)).toEqual([]);

      // A write (here a revocation of a token that does not exist) leaves one bootstrap-use row.
      const unknown = '3f0c8a4e-8a5b-4c1e-9d2f-0a1b2c3d4e5f';
      const write = await request(t.http).delete(`/api/v1/org/tokens/${unknown}`).expect(404);
      expect(await auditRows(bdb, write.headers['x-request-id'] as string)).toEqual([
        {
          actor: 'bootstrap',
          action: 'admin.bootstrap_use',
          target_id: `DELETE /api/v1/org/tokens/${unknown}`,
        },
      ]);
    });

    it('comes first: a valid session is served as bootstrap while it is open', async () => {
      const jwt = await issuer.token({ sub: 'alice', org_id: ORG });
      await whoami(t, jwt).expect(200, { tier: 'bootstrap', actor: 'bootstrap', scopes: ['admin'] });
    });

    it('closes for good when the first token is minted: revoking every token does not reopen it', async () => {
      const first = await mint(t, 'anything', { name: 'first' });
      const rows = await bdb.query(`SELECT created_by FROM org_tokens WHERE id = $1`, [first.id]);
      expect(rows).toEqual([{ created_by: 'bootstrap' }]);

      await whoami(t).expect(401, UNAUTHORIZED);
      await whoami(t, 'anything').expect(401, UNAUTHORIZED);
      await whoami(t, first.token).expect(200, {
        tier: 'org_token',
        actor: `org-token:${first.prefix}`,
        scopes: ['admin'],
      });
      const jwt = await issuer.token({ sub: 'alice', org_id: ORG });
      await whoami(t, jwt).expect(200, { tier: 'session', actor: 'session:alice', scopes: ['admin'] });

      await request(t.http)
        .delete(`/api/v1/org/tokens/${first.id}`)
        .set('authorization', `Bearer ${first.token}`)
        .expect(200);
      // No live token is left, and still no anonymous admin: not a read, not a mint.
      await whoami(t).expect(401, UNAUTHORIZED);
      await request(t.http).post('/api/v1/org/tokens').send({}).expect(401, UNAUTHORIZED);
      expect(await bdb.query(`SELECT 1 FROM org_tokens WHERE revoked_at IS NULL`)).toEqual([]);

      // Nor after a restart: the start does not even warn.
      const mark = logMark();
      const restarted = await boot({ ...sessionEnv(issuer), ORG_ID: ORG }, bdb);
      try {
        expect(logsSince(mark)).not.toMatch(/bootstrap is open/);
        await whoami(restarted).expect(401, UNAUTHORIZED);
      } finally {
        await restarted.close();
        apps.splice(apps.indexOf(restarted), 1);
      }
    });

    it('once closed, a checksum typo costs no database query, without ADMIN_TOKEN too', async () => {
      const live = await mint(t, await issuer.token({ sub: 'alice', org_id: ORG }));
      await whoami(t, live.token).expect(200);
      await t.app.get(OrgTokensService).settle();
      const typo = live.token.slice(0, 10) + (live.token[10] === 'a' ? 'b' : 'a') + live.token.slice(11);
      const queries = spyOnQueries();
      try {
        await whoami(t, typo).expect(401, UNAUTHORIZED);
        await whoami(t).expect(401, UNAUTHORIZED);
        expect(queries.statements()).toEqual([]);
      } finally {
        queries.restore();
      }
    });

    it('an expired token closes it on every instance, and its expiry does not reopen it', async () => {
      const edb = await suite.database();
      const a = await boot({}, edb);
      const b = await boot({}, edb);
      await whoami(b).expect(200, { tier: 'bootstrap', actor: 'bootstrap', scopes: ['admin'] });
      const short = await mint(a, 'anything', { expiresAt: new Date(Date.now() + 60_000).toISOString() });
      await expireOrgToken(edb, short.id);
      // b never saw the token live; the row alone closes bootstrap there too.
      await whoami(b).expect(401, UNAUTHORIZED);
      await whoami(a).expect(401, UNAUTHORIZED);
      await whoami(a, short.token).expect(401, UNAUTHORIZED);
      for (const app of [a, b]) {
        await app.app.get(OrgTokensService).settle();
        await app.close();
        apps.splice(apps.indexOf(app), 1);
      }
    });

    it('10 parallel anonymous mints on a fresh database, over two instances: exactly one 201', async () => {
      const rdb = await suite.database();
      const a = await boot({}, rdb);
      const b = await boot({}, rdb);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          request((i % 2 ? a : b).http)
            .post('/api/v1/org/tokens')
            .send({ name: `race-${i}` }),
        ),
      );
      const created = results.filter((r) => r.status === 201);
      for (const r of created) secrets.push((r.body as Minted).token);
      expect(created).toHaveLength(1);
      for (const r of results.filter((x) => x.status !== 201)) {
        expect({ status: r.status, body: r.body as unknown }).toEqual({ status: 401, body: UNAUTHORIZED });
      }
      expect(await rdb.query(`SELECT created_by FROM org_tokens`)).toEqual([{ created_by: 'bootstrap' }]);
      expect(await rdb.query(`SELECT 1 FROM audit_events WHERE action = 'org_token.mint'`)).toHaveLength(1);
      for (const app of [a, b]) {
        await app.app.get(OrgTokensService).settle();
        await app.close();
        apps.splice(apps.indexOf(app), 1);
      }
    });

    it.each([
      ['ADMIN_TOKEN is set', { ADMIN_TOKEN }],
      ['ADMIN_BOOTSTRAP_OPEN=false', { ADMIN_BOOTSTRAP_OPEN: 'false' }],
      [
        'NODE_ENV=production (default false)',
        {
          NODE_ENV: 'production',
          OAUTH_CALLBACK_ORIGIN: 'https://ks.example',
          SETTINGS_UI_ORIGIN: 'https://settings.example.com',
          TOKEN_SIGNING_KEY: testSigningKey(),
        },
      ],
    ])('is closed when %s', async (_label, env) => {
      const empty = await suite.database();
      const mark = logMark();
      const closed = await suite.start(env, { db: empty });
      try {
        await whoami(closed).expect(401, UNAUTHORIZED);
        expect(logsSince(mark)).toMatch(/Mapped \{\/api\/v1\/admin\/whoami, GET\} route/);
        expect(logsSince(mark)).not.toMatch(/bootstrap is open/);
      } finally {
        await closed.close();
      }
    });
  });

  describe('tier 4: deprecated API keys', () => {
    it('accepts a live admin-minted API key only when ADMIN_AUTH_ALLOW_API_KEYS=true and ADMIN_TOKEN is unset', async () => {
      const kdb = await suite.database();
      const mark = logMark();
      const on = await boot(
        { ADMIN_AUTH_ALLOW_API_KEYS: 'true', ADMIN_BOOTSTRAP_OPEN: 'false', ORG_ID: ORG },
        kdb,
      );
      expect(logsSince(mark)).toMatch(/ADMIN_AUTH_ALLOW_API_KEYS=true/);
      const key = await newApiKey(on, { adminOrgId: ORG });
      await whoami(on, key).expect(200, {
        tier: 'api_key',
        actor: `api-key:${key.slice(0, 12)}`,
        scopes: ['admin'],
      });
      // Any other live key is not an admin credential (auth/deprecated-api-key-admin-tier has the details).
      await whoami(on, await newApiKey(on)).expect(401, UNAUTHORIZED);
      const revokedKey = await newApiKey(on, { revoked: true, adminOrgId: ORG });
      await whoami(on, revokedKey).expect(401, UNAUTHORIZED);
      const wrongSecret = key.slice(0, -4) + (key.endsWith('0000') ? '1111' : '0000');
      await whoami(on, wrongSecret).expect(401, UNAUTHORIZED);

      const withAdminToken = await boot({ ADMIN_AUTH_ALLOW_API_KEYS: 'true', ADMIN_TOKEN, ORG_ID: ORG }, kdb);
      await whoami(withAdminToken, key).expect(401, UNAUTHORIZED);
      await whoami(withAdminToken, ADMIN_TOKEN).expect(200);
      for (const app of [on, withAdminToken]) {
        await app.close();
        apps.splice(apps.indexOf(app), 1);
      }
    });
  });

  describe('several instances on one database', () => {
    it('a revocation on one instance holds on the very next request on another', async () => {
      const a = await boot({ ADMIN_TOKEN });
      const b = await boot({ ADMIN_TOKEN });
      const token = await mint(a, ADMIN_TOKEN, { name: 'multi' });
      await whoami(b, token.token).expect(200);
      await whoami(b, token.token).expect(200);
      await request(a.http)
        .delete(`/api/v1/org/tokens/${token.id}`)
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .expect(200);
      await whoami(b, token.token).expect(401, UNAUTHORIZED);
      await whoami(a, token.token).expect(401, UNAUTHORIZED);
    });
  });
});
