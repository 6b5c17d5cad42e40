import request from 'supertest';
import { ApiKeyUsageRecorder } from 'src/api-key-resolution/api-key-usage-recorder';
import { ApiKeyRevocations } from 'src/api-keys/api-key-revocations';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { depositCredential, requestAccessToken } from 'test/helpers/credentials';
import { mintDeveloperKey, mintOrgToken, provision } from 'test/helpers/factories';
import { FULL_ADMIN_TOKEN, fullEnv } from 'test/helpers/full-app';
import { errorShape, resolveKey } from 'test/helpers/http';
import { m2mToken, sessionBearer } from 'test/helpers/issuers';
import { poll, startLogin } from 'test/helpers/oauth';
import { TestRevocationServer } from 'test/helpers/revocation-server';
import { secretsInTables } from 'test/helpers/table-scan';
import { concurrently, eventually } from 'test/helpers/waiting';

const ADMIN = `Bearer ${FULL_ADMIN_TOKEN}`;
const PROVIDERS = JSON.stringify([
  {
    slug: 'acme',
    name: 'Acme Billing',
    authUrl: 'https://acme.example/login',
    apiBase: 'https://acme.example',
  },
]);

interface Report {
  apiKeys: {
    id: string;
    keyPrefix: string;
    label: string | null;
    lastUsedAt: string | null;
    consumers: unknown[];
  }[];
  orgTokens: { id: string; prefix: string; name: string | null }[];
  oauthSessions: number;
  credentials: { mcpServerId: string; upstreamRevoked: boolean | null }[];
}
interface DisableAnswer {
  user: { id: string; status: string; disabledAt: string | null; liveKeyCount: number };
  dryRun: boolean;
  report: Report;
}

/** Issue 20: the kill switch (disable with its report), enable, and the admin revoke of any key. */
describe('offboarding: POST /api/v1/admin/users/:id/disable, enable, and the admin revoke', () => {
  const suite = e2eSuite();
  let a: TestApp;
  let b: TestApp;
  let revocation: TestRevocationServer;
  let resolver: string;
  /** A second M2M client that resolves keys: a key resolved by both has two consumers. */
  let billing: string;
  let provisioner: string;
  let acmeId: string;
  const secrets: string[] = [FULL_ADMIN_TOKEN];

  beforeAll(async () => {
    revocation = await TestRevocationServer.start();
    const env = fullEnv(suite.m2m, suite.session, {
      BILLING_PROVIDERS: PROVIDERS,
      // A hung revocation endpoint is given up after this long; the disable answers anyway.
      CREDENTIALS_REFRESH_TIMEOUT_MS: '300',
    });
    a = await suite.boot(env);
    b = await suite.boot(env);
    await eventually(() => a.app.get(ApiKeyRevocations).listening && b.app.get(ApiKeyRevocations).listening);
    resolver = await m2mToken(suite.m2m, 'gateway', 'apikeys:resolve');
    billing = await m2mToken(suite.m2m, 'billing', 'apikeys:resolve');
    provisioner = await m2mToken(suite.m2m, 'provisioner', 'provision:apikey');
    const [acme] = await suite.db.query<{ id: string }>(
      `SELECT id FROM billing_providers WHERE slug = 'acme'`,
    );
    acmeId = acme!.id;
  });

  suite.beforeTeardown(async () => {
    // No refresh token, key or token in any row: the deleted credentials took their ciphertexts with them.
    expect(await secretsInTables(suite.db, secrets)).toEqual([]);
  });

  afterAll(async () => {
    await revocation.stop();
    expect(a.logs.leaked(secrets)).toEqual([]);
  });

  const bearer = (sub: string): Promise<string> => sessionBearer(suite.session, sub);
  const mint = async (t: TestApp, sub: string, body: object = {}): Promise<request.Response> =>
    request(t.http)
      .post('/api/v1/developer/keys')
      .set('authorization', await bearer(sub))
      .send(body);
  const mintKey = async (sub: string, body: object = {}): Promise<{ id: string; secret: string }> => {
    const minted = await mintDeveloperKey(a.http, await bearer(sub), body);
    secrets.push(minted.secret);
    return { id: minted.key.id, secret: minted.secret };
  };
  const userIdOf = async (sub: string): Promise<string> => {
    const [row] = await suite.db.query<{ id: string }>('SELECT id FROM users WHERE external_id = $1', [sub]);
    return row!.id;
  };
  const disable = (t: TestApp, id: string, body: object): request.Test =>
    request(t.http).post(`/api/v1/admin/users/${id}/disable`).set('authorization', ADMIN).send(body);
  /** Every row of every table this feature touches, as text: a dry run must leave it exactly as it was. */
  const snapshot = async (): Promise<string> => {
    const tables = [
      'users',
      'api_keys',
      'org_tokens',
      'oauth_sessions',
      'mcp_oauth_credentials',
      'audit_events',
    ];
    const parts: string[] = [];
    for (const table of tables) {
      const rows = await suite.db.query<{ r: string }>(`SELECT t::text AS r FROM ${table} t ORDER BY 1`);
      parts.push(`${table}:${rows.map((r) => r.r).join('\n')}`);
    }
    return parts.join('\n---\n');
  };

  describe('the kill switch', () => {
    const sub = 'leaver';
    let userId: string;
    let minted: { id: string; secret: string };
    let disabledKey: { id: string; secret: string };
    let provisioned: { apiKey: string; keyId: string };
    let providerKeyId: string;
    let orgToken: string;
    let orgTokenId: string;
    let loginSessionId: string;
    const refreshTokens = {
      confirmed: 'rt-confirmed-0123456789abcdef',
      failing: 'rt-failing-0123456789abcdef',
      hanging: 'rt-hanging-0123456789abcdef',
      none: 'rt-none-0123456789abcdef',
    };

    beforeAll(async () => {
      secrets.push(...Object.values(refreshTokens));
      minted = await mintKey(sub, { label: 'laptop' });
      disabledKey = await mintKey(sub, { label: 'switched off' });
      await request(a.http)
        .patch(`/api/v1/developer/keys/${disabledKey.id}`)
        .set('authorization', await bearer(sub))
        .send({ enabled: false })
        .expect(200);
      const p = await provision(a.http, provisioner, { externalId: sub, keyName: 'ci' });
      provisioned = { apiKey: p.apiKey, keyId: p.keyId };
      secrets.push(p.apiKey);
      const stored = await mint(a, sub, {
        billingProviderId: acmeId,
        rawApiKey: 'acme_live_0123456789abcdefWXYZ',
      });
      expect(stored.status).toBe(201);
      secrets.push('acme_live_0123456789abcdefWXYZ');
      providerKeyId = (stored.body as { key: { id: string } }).key.id;
      // ORG_ID unset: in development every session is an org admin, so this token is "minted by a session".
      const token = await request(a.http)
        .post('/api/v1/org/tokens')
        .set('authorization', await bearer(sub))
        .send({ name: 'leaver-script' });
      expect(token.status).toBe(201);
      ({ token: orgToken, id: orgTokenId } = token.body as { token: string; id: string });
      secrets.push(orgToken);
      loginSessionId = (await startLogin(a.http, await bearer(sub), 'acme')).loginSessionId;
      revocation.behave('/failing', { kind: 'status', status: 500 });
      revocation.behave('/hanging', { kind: 'hang' });
      for (const [name, path] of [
        ['confirmed', '/ok'],
        ['failing', '/failing'],
        ['hanging', '/hanging'],
      ] as const)
        await depositCredential(a.http, await bearer(sub), {
          mcpServerId: `mcp-${name}`,
          refreshToken: refreshTokens[name],
          tokenEndpoint: revocation.url('/token'),
          revocationEndpoint: revocation.url(path),
          clientId: 'keysmith-client',
        });
      await depositCredential(a.http, await bearer(sub), {
        mcpServerId: 'mcp-none',
        refreshToken: refreshTokens.none,
        tokenEndpoint: revocation.url('/token'),
      });
      userId = await userIdOf(sub);
      // Cached as live on both instances before the kill switch.
      await resolveKey(a.http, resolver, minted.secret).expect(200);
      await resolveKey(b.http, resolver, minted.secret).expect(200);
      await resolveKey(b.http, resolver, provisioned.apiKey).expect(200);
      // A second consumer of the laptop key, on the other instance.
      await resolveKey(b.http, billing, minted.secret).expect(200);
      await request(b.http)
        .get('/api/v1/admin/whoami')
        .set('authorization', `Bearer ${orgToken}`)
        .expect(200);
      // The consumers are written by the usage recorders: flush both.
      for (const t of [a, b]) await t.app.get(ApiKeyUsageRecorder).flush();
      // Last uses are written in the background: wait for them, so the dry run's snapshot holds still.
      await eventually(async () => {
        const [row] = await suite.db.query<{ n: number }>(
          `SELECT (SELECT count(*) FROM api_keys WHERE key_id = ANY($1::text[]) AND last_used_at IS NOT NULL)
                + (SELECT count(*) FROM org_tokens WHERE id = $2 AND last_used_at IS NOT NULL) AS n`,
          [[minted.secret.split('_')[1], provisioned.keyId], orgTokenId],
        );
        return Number(row!.n) === 3;
      });
    });

    it('a dry run answers the whole report and changes nothing (every row compared)', async () => {
      const before = await snapshot();
      const res = await disable(a, userId, { reason: 'left the company', dryRun: true });
      expect(res.status).toBe(200);
      const body = res.body as DisableAnswer;
      expect(body.dryRun).toBe(true);
      expect(body.user).toMatchObject({ id: userId, status: 'ACTIVE', disabledAt: null, liveKeyCount: 4 });
      expect(new Set(body.report.apiKeys.map((k) => k.id))).toEqual(
        new Set([minted.id, disabledKey.id, providerKeyId, await keyUuid(provisioned.keyId)]),
      );
      const laptop = body.report.apiKeys.find((k) => k.id === minted.id);
      expect(laptop).toEqual({
        id: minted.id,
        keyPrefix: minted.secret.slice(0, 12),
        label: 'laptop',
        lastUsedAt: expect.any(String) as unknown,
        // Resolved above by `gateway` on both instances and by `billing` on one: both, most recent first.
        consumers: expect.arrayContaining(
          ['gateway', 'billing'].map((clientId) => ({
            clientId,
            firstResolvedAt: expect.stringMatching(/Z$/) as unknown,
            lastResolvedAt: expect.stringMatching(/Z$/) as unknown,
          })),
        ) as unknown,
      });
      const consumers = laptop!.consumers as { clientId: string; lastResolvedAt: string }[];
      expect(consumers).toHaveLength(2);
      expect(consumers.map((c) => c.lastResolvedAt)).toEqual(
        consumers.map((c) => c.lastResolvedAt).sort((x, y) => y.localeCompare(x)),
      );
      // A key no M2M client resolved has none.
      expect(body.report.apiKeys.find((k) => k.id === disabledKey.id)!.consumers).toEqual([]);
      expect(body.report.orgTokens).toEqual([
        { id: orgTokenId, prefix: orgToken.slice(0, 12), name: 'leaver-script' },
      ]);
      expect(body.report.oauthSessions).toBe(1);
      expect(body.report.credentials).toEqual(
        ['mcp-confirmed', 'mcp-failing', 'mcp-hanging', 'mcp-none'].map((mcpServerId) => ({
          mcpServerId,
          upstreamRevoked: null,
        })),
      );
      expect(await snapshot()).toBe(before);
      expect(revocation.seen).toEqual([]);
      await resolveKey(b.http, resolver, minted.secret).expect(200);
    });

    it('disables, revokes and deletes everything in one go; upstream 500 and a hung endpoint are `false`', async () => {
      const res = await disable(a, userId, { reason: 'left the company' });
      expect(res.status).toBe(200);
      const body = res.body as DisableAnswer;
      expect(body.dryRun).toBe(false);
      expect(body.user).toMatchObject({ id: userId, status: 'DISABLED', liveKeyCount: 0 });
      expect(body.user.disabledAt).toEqual(expect.any(String));
      expect(body.report.apiKeys).toHaveLength(4);
      expect(body.report.orgTokens.map((t) => t.id)).toEqual([orgTokenId]);
      expect(body.report.oauthSessions).toBe(1);
      expect(body.report.credentials).toEqual([
        { mcpServerId: 'mcp-confirmed', upstreamRevoked: true },
        { mcpServerId: 'mcp-failing', upstreamRevoked: false },
        { mcpServerId: 'mcp-hanging', upstreamRevoked: false },
        { mcpServerId: 'mcp-none', upstreamRevoked: null },
      ]);
      // RFC 7009 §2.1: the refresh token, hinted, with the client's identity.
      expect(revocation.seen.find((s) => s.path === '/ok')).toEqual({
        path: '/ok',
        token: refreshTokens.confirmed,
        tokenTypeHint: 'refresh_token',
        clientId: 'keysmith-client',
        authorization: undefined,
      });

      const keys = await suite.db.query<{ revoked_reason: string | null }>(
        'SELECT revoked_reason FROM api_keys WHERE user_id = $1',
        [userId],
      );
      expect(keys.map((k) => k.revoked_reason)).toEqual(Array(4).fill('offboarding'));
      expect(
        await suite.db.query('SELECT 1 FROM mcp_oauth_credentials WHERE user_id = $1', [userId]),
      ).toEqual([]);
    });

    it('every instance refuses all of it on the next request; the keys answer 403 identity_not_allowed', async () => {
      // Key and user were cached live on b (and a): the change reaches them through the channel. While the
      // user is disabled their keys, revoked by the kill switch, answer 403 (API.md; decision 0080).
      for (const t of [b, a])
        for (const secret of [minted.secret, provisioned.apiKey, disabledKey.secret]) {
          const res = await resolveKey(t.http, resolver, secret);
          expect({ status: res.status, body: res.body as unknown }).toEqual({
            status: 403,
            body: errorShape('identity_not_allowed', 403),
          });
        }
      await request(b.http)
        .get('/api/v1/admin/whoami')
        .set('authorization', `Bearer ${orgToken}`)
        .expect(401);
      // The handoff failed (a disabled user's poll is refused anyway): no key can be completed or redeemed.
      const [session] = await suite.db.query<{ status: string; failure_reason: string }>(
        'SELECT status, failure_reason FROM oauth_sessions WHERE id = $1',
        [loginSessionId],
      );
      expect(session).toEqual({ status: 'failed', failure_reason: 'identity_not_allowed' });
      const polled = await poll(b.http, await bearer(sub), 'acme', loginSessionId);
      expect(polled.status).toBe(403);
      const m2m = await m2mToken(suite.m2m, 'runtime', 'credentials:use');
      const token = await requestAccessToken(b.http, m2m, { userId, mcpServerId: 'mcp-none' });
      expect([403, 404]).toContain(token.status);
      const write = await mint(b, sub);
      expect({ status: write.status, body: write.body as unknown }).toEqual({
        status: 403,
        body: errorShape('identity_not_allowed', 403),
      });
    });

    it('audits every revocation with the acting admin and the reason', async () => {
      const rows = await suite.db.query<{ action: string; actor: string; reason: string | null }>(
        `SELECT action, actor, metadata->>'reason' AS reason FROM audit_events
          WHERE actor = 'admin-token' ORDER BY action`,
      );
      const count = (action: string): number => rows.filter((r) => r.action === action).length;
      expect(count('user.disable')).toBe(1);
      expect(count('api_key.revoke')).toBe(4);
      expect(count('org_token.revoke')).toBe(1);
      expect(count('mcp_oauth_credential.delete')).toBe(4);
      expect(count('mcp_oauth_credential.upstream_revoke')).toBe(3);
      expect(
        rows
          .filter((r) => r.action !== 'mcp_oauth_credential.upstream_revoke')
          .every((r) => r.reason === 'left the company'),
      ).toBe(true);
    });

    it('a second disable answers the empty report', async () => {
      const res = await disable(b, userId, { reason: 'again' });
      expect(res.status).toBe(200);
      expect((res.body as DisableAnswer).report).toEqual({
        apiKeys: [],
        orgTokens: [],
        oauthSessions: 0,
        credentials: [],
      });
      expect((res.body as DisableAnswer).user.status).toBe('DISABLED');
    });

    it('enable restores the person, never their keys', async () => {
      const res = await request(b.http)
        .post(`/api/v1/admin/users/${userId}/enable`)
        .set('authorization', ADMIN)
        .send({ reason: 'came back' });
      expect(res.status).toBe(200);
      expect((res.body as DisableAnswer).user).toMatchObject({
        status: 'ACTIVE',
        disabledAt: null,
        liveKeyCount: 0,
      });
      // The 403s both instances cached are dropped by the enable's announcement: revoked keys answer 401.
      for (const t of [a, b])
        for (const secret of [minted.secret, provisioned.apiKey, disabledKey.secret]) {
          const refused = await resolveKey(t.http, resolver, secret);
          expect({ status: refused.status, body: refused.body as unknown }).toEqual({
            status: 401,
            body: errorShape('invalid_api_key', 401),
          });
        }
      // An expired key could otherwise be given a new expiry: it was revoked too.
      const patch = await request(a.http)
        .patch(`/api/v1/developer/keys/${disabledKey.id}`)
        .set('authorization', await bearer(sub))
        .send({ enabled: true });
      expect(patch.status).toBe(409);
      const fresh = await mintKey(sub);
      await resolveKey(b.http, resolver, fresh.secret).expect(200);
      // Idempotent, with an empty body.
      await request(a.http)
        .post(`/api/v1/admin/users/${userId}/enable`)
        .set('authorization', ADMIN)
        .expect(200);
    });
  });

  const keyUuid = async (keyId: string): Promise<string> => {
    const [row] = await suite.db.query<{ id: string }>('SELECT id FROM api_keys WHERE key_id = $1', [keyId]);
    return row!.id;
  };

  describe('a disable racing mints and provisioning on two instances', () => {
    it('leaves no live key, whichever commits first (five rounds)', async () => {
      for (let round = 0; round < 5; round++) {
        const sub = `racer-${round}`;
        await mintKey(sub);
        const userId = await userIdOf(sub);
        const settled = await Promise.all([
          concurrently(12, async (i) => {
            const t = i % 2 === 0 ? a : b;
            if (i % 4 === 3)
              return request(t.http)
                .post('/api/v1/internal/provision-apikey')
                .set('authorization', `Bearer ${provisioner}`)
                .send({ externalId: sub, email: 'racer@example.com', orgId: 'org-allowed', keyName: `k${i}` })
                .then((r) => r.status);
            return mint(t, sub).then((r) => {
              if (r.status === 201) secrets.push((r.body as { secret: string }).secret);
              return r.status;
            });
          }),
          disable(round % 2 === 0 ? a : b, userId, { reason: 'race' }).then((r) => r.status),
        ]);
        expect(settled[1]).toBe(200);
        for (const status of settled[0]) expect([200, 201, 403]).toContain(status);
        const live = await suite.db.query(
          'SELECT id FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL',
          [userId],
        );
        expect(live).toEqual([]);
      }
    });
  });

  describe('org tokens of a person’s lineage (decision 0110)', () => {
    const mintToken = async (t: TestApp, authorization: string, name: string): Promise<request.Response> =>
      request(t.http).post('/api/v1/org/tokens').set('authorization', authorization).send({ name });
    const minted = (res: request.Response): { id: string; token: string } => {
      expect(res.status).toBe(201);
      const body = res.body as { id: string; token: string };
      secrets.push(body.token);
      return body;
    };
    const rollToken = async (authorization: string, id: string): Promise<{ id: string; token: string }> =>
      minted(
        await request(a.http)
          .post(`/api/v1/org/tokens/${id}/roll`)
          .set('authorization', authorization)
          .send({ graceSeconds: 3600 }),
      );
    const whoami = (t: TestApp, token: string): request.Test =>
      request(t.http).get('/api/v1/admin/whoami').set('authorization', `Bearer ${token}`);

    it('a roll, a token-minted token and their rolls are revoked and reported with the person', async () => {
      const sub = 'boss';
      const session = await bearer(sub);
      const own = minted(await mintToken(a, session, 'own'));
      // The token mints another, and rolls itself: neither is created by the session, both are the boss's.
      const child = minted(await mintToken(a, `Bearer ${own.token}`, 'child'));
      const ownRolled = await rollToken(`Bearer ${own.token}`, own.id);
      // ADMIN_TOKEN rolls the child: the successor is still the boss's.
      const childRolled = await rollToken(ADMIN, child.id);
      // ADMIN_TOKEN's own token is nobody's person: it survives.
      const ops = minted(await mintToken(a, ADMIN, 'ops'));
      const lineage = [own, child, ownRolled, childRolled];
      for (const t of lineage) await whoami(b, t.token).expect(200);
      const userId = await userIdOf(sub);

      const dry = await disable(a, userId, { reason: 'lineage', dryRun: true }).expect(200);
      const ids = lineage.map((t) => t.id).sort();
      expect((dry.body as DisableAnswer).report.orgTokens.map((t) => t.id).sort()).toEqual(ids);
      const res = await disable(b, userId, { reason: 'lineage' }).expect(200);
      expect((res.body as DisableAnswer).report.orgTokens.map((t) => t.id).sort()).toEqual(ids);
      for (const t of lineage) {
        await whoami(a, t.token).expect(401);
        await whoami(b, t.token).expect(401);
      }
      await whoami(a, ops.token).expect(200);
      expect(
        await suite.db.query(`SELECT id FROM org_tokens WHERE minted_for = $1 AND revoked_at IS NULL`, [
          `session:${sub}`,
        ]),
      ).toEqual([]);
    });

    it('an org-token mint racing the disable on two instances leaves no live token (five rounds)', async () => {
      for (let round = 0; round < 5; round++) {
        const sub = `token-racer-${round}`;
        await mintKey(sub);
        const userId = await userIdOf(sub);
        const session = await bearer(sub);
        const parent = minted(await mintToken(a, session, 'parent'));
        const settled = await Promise.all([
          concurrently(8, (i) =>
            // Half by the session, half by the session's own token, alternating instances.
            mintToken(i % 2 === 0 ? a : b, i % 4 < 2 ? session : `Bearer ${parent.token}`, `r${i}`).then(
              (r) => {
                if (r.status === 201) secrets.push((r.body as { token: string }).token);
                return r.status;
              },
            ),
          ),
          disable(round % 2 === 0 ? b : a, userId, { reason: 'race' }).then((r) => r.status),
        ]);
        expect(settled[1]).toBe(200);
        // 403: the mint saw the user disabled under the lock; 401: the credential was refused already.
        for (const status of settled[0]) expect([201, 401, 403]).toContain(status);
        expect(
          await suite.db.query(`SELECT id FROM org_tokens WHERE minted_for = $1 AND revoked_at IS NULL`, [
            `session:${sub}`,
          ]),
        ).toEqual([]);
      }
    });
  });

  describe('two disables at once, on two instances', () => {
    it('both answer 200; each key is reported (and audited) by exactly one of them', async () => {
      const sub = 'twice-at-once';
      const keys = [await mintKey(sub), await mintKey(sub), await mintKey(sub)];
      const userId = await userIdOf(sub);
      const [first, second] = await Promise.all([
        disable(a, userId, { reason: 'one' }),
        disable(b, userId, { reason: 'two' }),
      ]);
      expect([first.status, second.status]).toEqual([200, 200]);
      const reported = [first, second].flatMap((r) =>
        (r.body as DisableAnswer).report.apiKeys.map((k) => k.id),
      );
      expect(reported.sort()).toEqual(keys.map((k) => k.id).sort());
      const audited = await suite.db.query(
        `SELECT target_id FROM audit_events WHERE action = 'api_key.revoke' AND target_id = ANY($1::text[])`,
        [keys.map((k) => k.id)],
      );
      expect(audited).toHaveLength(3);
    });
  });

  describe('rolled keys and tokens (decision 0060: past its grace a key is revoked, `rolled`)', () => {
    const sub = 'roller';
    let userId: string;
    let rolledAway: { id: string; secret: string };
    let rolledAwaySuccessor: string;
    let inGrace: { id: string; secret: string };
    let inGraceSuccessor: string;
    let tokenAway: string;
    let tokenInGrace: string;
    let tokenSuccessors: string[];

    const rollKey = async (id: string, graceSeconds: number): Promise<string> => {
      const res = await request(a.http)
        .post(`/api/v1/developer/keys/${id}/roll`)
        .set('authorization', await bearer(sub))
        .send({ graceSeconds });
      expect(res.status).toBe(201);
      const rolled = res.body as { key: { id: string }; secret: string };
      secrets.push(rolled.secret);
      return rolled.key.id;
    };
    const mintToken = async (): Promise<string> => {
      const minted = await mintOrgToken(a.http, await bearer(sub));
      secrets.push(minted.token);
      return minted.id;
    };
    const rollToken = async (id: string, graceSeconds: number): Promise<string> => {
      const res = await request(a.http)
        .post(`/api/v1/org/tokens/${id}/roll`)
        .set('authorization', await bearer(sub))
        .send({ graceSeconds });
      expect(res.status).toBe(201);
      const rolled = res.body as { id: string; token: string };
      secrets.push(rolled.token);
      return rolled.id;
    };
    const rows = (table: string, ids: string[]) =>
      suite.db.query<{ id: string; revoked_at: Date | null; revoked_reason: string | null }>(
        `SELECT id, revoked_at, revoked_reason FROM ${table} WHERE id = ANY($1::uuid[]) ORDER BY id`,
        [ids],
      );

    beforeAll(async () => {
      rolledAway = await mintKey(sub, { label: 'rolled away' });
      rolledAwaySuccessor = await rollKey(rolledAway.id, 0);
      inGrace = await mintKey(sub, { label: 'in its grace' });
      inGraceSuccessor = await rollKey(inGrace.id, 3600);
      tokenAway = await mintToken();
      tokenInGrace = await mintToken();
      tokenSuccessors = [await rollToken(tokenAway, 0), await rollToken(tokenInGrace, 3600)];
      userId = await userIdOf(sub);
    });

    it('the user list counts a key in its grace as live, a rolled-away one not', async () => {
      const res = await request(b.http)
        .get('/api/v1/admin/users')
        .query({ q: sub })
        .set('authorization', ADMIN)
        .expect(200);
      const [user] = (res.body as { users: { id: string; liveKeyCount: number }[] }).users;
      expect(user).toMatchObject({ id: userId, liveKeyCount: 3 });
    });

    it('the admin revoke of a rolled-away key answers it as it is, `rolled`, and writes nothing', async () => {
      const res = await request(a.http)
        .post(`/api/v1/admin/api-keys/${rolledAway.id}/revoke`)
        .set('authorization', ADMIN)
        .send({ reason: 'cleanup' });
      expect(res.status).toBe(200);
      expect((res.body as { key: unknown }).key).toMatchObject({
        id: rolledAway.id,
        status: 'REVOKED',
        revokedReason: 'rolled',
      });
      expect(await rows('api_keys', [rolledAway.id])).toEqual([
        { id: rolledAway.id, revoked_at: null, revoked_reason: null },
      ]);
      const audit = await suite.db.query(
        `SELECT 1 FROM audit_events WHERE action = 'api_key.revoke' AND target_id = $1`,
        [rolledAway.id],
      );
      expect(audit).toEqual([]);
    });

    it('the dry run and the kill switch report and revoke what is live: the grace, not what was rolled away', async () => {
      const expectedKeys = [rolledAwaySuccessor, inGrace.id, inGraceSuccessor].sort();
      const expectedTokens = [tokenInGrace, ...tokenSuccessors].sort();
      const dry = await disable(a, userId, { reason: 'roll check', dryRun: true });
      expect(dry.status).toBe(200);
      const dryReport = (dry.body as DisableAnswer).report;
      expect(dryReport.apiKeys.map((k) => k.id).sort()).toEqual(expectedKeys);
      expect(dryReport.orgTokens.map((t) => t.id).sort()).toEqual(expectedTokens);

      await resolveKey(b.http, resolver, inGrace.secret).expect(200);
      const res = await disable(a, userId, { reason: 'roll check' });
      expect(res.status).toBe(200);
      const body = res.body as DisableAnswer;
      expect(body.report.apiKeys.map((k) => k.id).sort()).toEqual(expectedKeys);
      expect(body.report.orgTokens.map((t) => t.id).sort()).toEqual(expectedTokens);
      expect(body.user.liveKeyCount).toBe(0);

      // The rolled-away key and token keep their rows as they were; the rest is revoked `offboarding`.
      expect(await rows('api_keys', [rolledAway.id])).toEqual([
        { id: rolledAway.id, revoked_at: null, revoked_reason: null },
      ]);
      expect((await rows('api_keys', expectedKeys)).map((r) => r.revoked_reason)).toEqual(
        Array(3).fill('offboarding'),
      );
      expect(await rows('org_tokens', [tokenAway])).toEqual([
        { id: tokenAway, revoked_at: null, revoked_reason: null },
      ]);
      expect((await rows('org_tokens', expectedTokens)).map((t) => t.revoked_reason)).toEqual(
        Array(3).fill('offboarding'),
      );
      const audited = await suite.db.query<{ target_id: string }>(
        `SELECT target_id FROM audit_events WHERE action = 'api_key.revoke' AND metadata->>'reason' = 'roll check'`,
      );
      expect(audited.map((r) => r.target_id).sort()).toEqual(expectedKeys);
      // The key in its grace, cached live on b, is refused there at once; the admin view says `offboarding`.
      await resolveKey(b.http, resolver, inGrace.secret).expect(403);
      const view = await request(b.http)
        .get('/api/v1/admin/api-keys')
        .query({ userId })
        .set('authorization', ADMIN)
        .expect(200);
      const reasons = Object.fromEntries(
        (view.body as { keys: { id: string; revokedReason: string | null }[] }).keys.map((k) => [
          k.id,
          k.revokedReason,
        ]),
      );
      expect(reasons).toEqual({
        [rolledAway.id]: 'rolled',
        [rolledAwaySuccessor]: 'offboarding',
        [inGrace.id]: 'offboarding',
        [inGraceSuccessor]: 'offboarding',
      });
    });
  });

  describe("a disabled user's keys resolve 403 identity_not_allowed, whatever revoked them, on every instance", () => {
    it('a key revoked before the disable too; after the enable all of them answer 401 again', async () => {
      for (let round = 0; round < 3; round++) {
        const sub = `resolve-403-${round}`;
        const [here, there] = round % 2 === 0 ? [a, b] : [b, a];
        const live = await mintKey(sub);
        const revokedBefore = await mintKey(sub);
        await request(a.http)
          .delete(`/api/v1/developer/keys/${revokedBefore.id}`)
          .set('authorization', await bearer(sub))
          .expect(200);
        const userId = await userIdOf(sub);
        // Cached on both instances: a live answer and a refusal of the revoked key.
        for (const t of [a, b]) {
          await resolveKey(t.http, resolver, live.secret).expect(200);
          await resolveKey(t.http, resolver, revokedBefore.secret).expect(401);
        }
        await disable(here, userId, { reason: `round ${round}` }).expect(200);
        for (const secret of [live.secret, revokedBefore.secret]) {
          const res = await resolveKey(there.http, resolver, secret);
          expect({ status: res.status, body: res.body as unknown }).toEqual({
            status: 403,
            body: errorShape('identity_not_allowed', 403),
          });
          await resolveKey(here.http, resolver, secret).expect(403);
        }
        // Only the exact secret tells: the key's lookup id with another secret (a well-formed legacy key,
        // read from the database) is the 401 of any unknown key.
        await resolveKey(there.http, resolver, `ksk_${live.secret.split('_')[1]}_${'0'.repeat(64)}`).expect(
          401,
        );
        await request(there.http)
          .post(`/api/v1/admin/users/${userId}/enable`)
          .set('authorization', ADMIN)
          .send({})
          .expect(200);
        for (const secret of [live.secret, revokedBefore.secret]) {
          await resolveKey(here.http, resolver, secret).expect(401);
          await resolveKey(there.http, resolver, secret).expect(401);
        }
      }
    });
  });

  describe("a disabled user's session on the admin routes (decision 0085)", () => {
    it('is 403 identity_not_allowed on every instance at its next request, reads included; enable restores it', async () => {
      const sub = 'admin-leaver';
      await mintKey(sub);
      const userId = await userIdOf(sub);
      const session = await bearer(sub);
      const whoami = (t: TestApp): request.Test =>
        request(t.http).get('/api/v1/admin/whoami').set('authorization', session);
      const users = (t: TestApp): request.Test =>
        request(t.http).get('/api/v1/admin/users').set('authorization', session);
      const mintToken = (t: TestApp): request.Test =>
        request(t.http).post('/api/v1/org/tokens').set('authorization', session).send({ name: 'late' });
      // ORG_ID unset: every session is an org admin.
      await whoami(a).expect(200);
      await users(b).expect(200);
      await disable(a, userId, { reason: 'left' }).expect(200);
      for (const t of [b, a])
        for (const res of [await whoami(t), await users(t), await mintToken(t)])
          expect({ status: res.status, body: res.body as unknown }).toEqual({
            status: 403,
            body: errorShape('identity_not_allowed', 403),
          });
      const minted = await suite.db.query(`SELECT 1 FROM org_tokens WHERE name = 'late'`);
      expect(minted).toEqual([]);
      await request(b.http)
        .post(`/api/v1/admin/users/${userId}/enable`)
        .set('authorization', ADMIN)
        .send({})
        .expect(200);
      await whoami(a).expect(200);
      await users(b).expect(200);
    });
  });

  describe('bad input', () => {
    let userId: string;
    beforeAll(async () => {
      await mintKey('bad-input');
      userId = await userIdOf('bad-input');
    });

    it.each([
      ['missing', {}],
      ['empty', { reason: '' }],
      ['only spaces', { reason: '   ' }],
      ['over 200 characters', { reason: 'x'.repeat(201) }],
      ['a bidirectional override', { reason: 'ok\u202Egnp' }],
      ['a line break inside', { reason: 'one\ntwo' }],
      ['not a string', { reason: 42 }],
      ['null', { reason: null }],
      ['dryRun not a boolean', { reason: 'fine', dryRun: 'yes' }],
      ['an unknown field', { reason: 'fine', extra: 1 }],
    ])('reason %s: 400 on disable and on revoke, nothing changes', async (_label, body) => {
      const before = await snapshot();
      const res = await disable(a, userId, body);
      expect({ status: res.status, body: res.body as unknown }).toEqual({
        status: 400,
        body: expect.objectContaining({
          error: expect.objectContaining({ type: 'validation_failed' }),
        }) as unknown,
      });
      const [key] = await suite.db.query<{ id: string }>('SELECT id FROM api_keys WHERE user_id = $1', [
        userId,
      ]);
      const revoke = await request(a.http)
        .post(`/api/v1/admin/api-keys/${key!.id}/revoke`)
        .set('authorization', ADMIN)
        .send(body);
      expect(revoke.status).toBe(400);
      expect(await snapshot()).toBe(before);
    });

    it('a reason of exactly 200 characters is fine (dry run)', async () => {
      await disable(a, userId, { reason: 'y'.repeat(200), dryRun: true }).expect(200);
    });

    it.each([
      ['disable', (id: string) => `/api/v1/admin/users/${id}/disable`],
      ['enable', (id: string) => `/api/v1/admin/users/${id}/enable`],
      ['revoke', (id: string) => `/api/v1/admin/api-keys/${id}/revoke`],
    ])('%s: an unknown id is 404, a malformed one 400', async (_label, path) => {
      const unknown = await request(a.http)
        .post(path('00000000-0000-4000-8000-000000000000'))
        .set('authorization', ADMIN)
        .send({ reason: 'r' });
      expect({ status: unknown.status, body: unknown.body as unknown }).toEqual({
        status: 404,
        body: errorShape('not_found', 404),
      });
      for (const bad of ['not-a-uuid', '123', '00000000-0000-4000-8000-00000000000g'])
        await request(a.http).post(path(bad)).set('authorization', ADMIN).send({ reason: 'r' }).expect(400);
    });

    it.each([
      ['no credential', undefined],
      ['a wrong token', 'Bearer kso_nottherightthing'],
      ['a developer’s API key', 'api-key'],
    ])('%s: 401 and nothing changes', async (_label, auth) => {
      const key = await mintKey('bad-auth');
      const header = auth === 'api-key' ? `Bearer ${key.secret}` : auth;
      const post = (path: string): request.Test => {
        const r = request(a.http).post(path).send({ reason: 'r' });
        return header === undefined ? r : r.set('authorization', header);
      };
      await post(`/api/v1/admin/users/${userId}/disable`).expect(401);
      await post(`/api/v1/admin/users/${userId}/enable`).expect(401);
      await post(`/api/v1/admin/api-keys/${key.id}/revoke`).expect(401);
      const after = await suite.db.query('SELECT 1 FROM users WHERE id = $1 AND disabled_at IS NOT NULL', [
        userId,
      ]);
      expect(after).toEqual([]);
      const [row] = await suite.db.query<{ revoked_at: Date | null }>(
        'SELECT revoked_at FROM api_keys WHERE id = $1',
        [key.id],
      );
      expect(row!.revoked_at).toBeNull();
    });
  });

  describe('POST /api/v1/admin/api-keys/:id/revoke', () => {
    it('revokes any user’s key (`admin`), refused at once on the other instance; idempotent, audited once', async () => {
      const key = await mintKey('someone-else', { label: 'victim' });
      await resolveKey(b.http, resolver, key.secret).expect(200);
      const res = await request(a.http)
        .post(`/api/v1/admin/api-keys/${key.id}/revoke`)
        .set('authorization', ADMIN)
        .send({ reason: 'leaked in a ticket' });
      expect(res.status).toBe(200);
      const answered = (res.body as { key: Record<string, unknown> }).key;
      expect(answered).toMatchObject({
        id: key.id,
        label: 'victim',
        status: 'REVOKED',
        revokedReason: 'admin',
        user: { id: await userIdOf('someone-else'), externalId: 'someone-else', email: null },
      });
      await resolveKey(b.http, resolver, key.secret).expect(401);
      const again = await request(b.http)
        .post(`/api/v1/admin/api-keys/${key.id}/revoke`)
        .set('authorization', ADMIN)
        .send({ reason: 'twice' });
      expect(again.status).toBe(200);
      expect((again.body as { key: unknown }).key).toEqual(answered);
      const audit = await suite.db.query<{ reason: string }>(
        `SELECT metadata->>'reason' AS reason FROM audit_events WHERE action = 'api_key.revoke' AND target_id = $1`,
        [key.id],
      );
      expect(audit).toEqual([{ reason: 'leaked in a ticket' }]);
    });

    it('concurrent revokes on both instances: all 200, one revocation, one audit row', async () => {
      const key = await mintKey('contested');
      const answers = await concurrently(10, (i) =>
        request((i % 2 === 0 ? a : b).http)
          .post(`/api/v1/admin/api-keys/${key.id}/revoke`)
          .set('authorization', ADMIN)
          .send({ reason: `revoke ${i}` })
          .then((r) => r.status),
      );
      expect(answers).toEqual(Array(10).fill(200));
      const audit = await suite.db.query(
        `SELECT 1 FROM audit_events WHERE action = 'api_key.revoke' AND target_id = $1`,
        [key.id],
      );
      expect(audit).toHaveLength(1);
    });

    it('a key its user revoked stays `user`', async () => {
      const key = await mintKey('self-revoker');
      await request(a.http)
        .delete(`/api/v1/developer/keys/${key.id}`)
        .set('authorization', await bearer('self-revoker'))
        .expect(200);
      const res = await request(a.http)
        .post(`/api/v1/admin/api-keys/${key.id}/revoke`)
        .set('authorization', ADMIN)
        .send({ reason: 'cleanup' });
      expect(res.status).toBe(200);
      expect((res.body as { key: { revokedReason: string } }).key.revokedReason).toBe('user');
    });
  });
});
