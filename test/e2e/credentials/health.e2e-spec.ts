import request from 'supertest';
import { credentialField } from 'src/credentials/credentials.encrypted-table';
import { EncryptionService } from 'src/crypto/encryption/encryption.service';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { CREDENTIALS_PATH, requestAccessToken } from 'test/helpers/credentials';
import { errorShape } from 'test/helpers/http';
import { m2mToken, sessionBearer } from 'test/helpers/issuers';
import { TestRevocationServer } from 'test/helpers/revocation-server';
import { plaintextInTables } from 'test/helpers/table-scan';
import { TestTokenServer, type Fault } from 'test/helpers/token-server';
import { concurrently, eventually } from 'test/helpers/waiting';

const ENCRYPTION_KEY = 'e2e-credential-health-secret-0123456789ab';
const CLIENT = { id: 'health-client', secret: 'health-client-secret-0123456789' };
/**
 * What a provider's failing answers carry: text that could be a secret (a provider echoing a token in its
 * error description, or even in its `error` code). It must reach no table, no answer and no log line.
 */
const PROVIDER_SECRET = 'sk_live_provider_echo_5f0c1e2d3b4a69788796a5b4';
const LEAKY_503: Fault = {
  kind: 'status',
  status: 503,
  body: { error: 'server_error', error_description: `upstream said ${PROVIDER_SECRET}` },
};
const LEAKY_CODE: Fault = { kind: 'status', status: 500, body: { error: PROVIDER_SECRET } };
const LEAKY_INVALID_GRANT: Fault = {
  kind: 'status',
  status: 400,
  body: { error: 'invalid_grant', error_description: `token ${PROVIDER_SECRET} revoked` },
};

interface Health {
  mcpServerId: string;
  status: string;
  lastRefreshedAt: string | null;
  consecutiveFailures: number;
  lastFailure: { type: string; at: string } | null;
}

/** API.md "Credential health": health state, backoff shared by instances, validate on deposit, delete. */
describe('credentials: health, backoff, validation on deposit', () => {
  const suite = e2eSuite();
  let a: TestApp;
  let b: TestApp;
  let server: TestTokenServer;
  let revocation: TestRevocationServer;
  let runtime: string;
  /** Every answer body of this suite, scanned for the provider's text at the end. */
  const answers: string[] = [];
  const secrets: string[] = [CLIENT.secret];

  beforeAll(async () => {
    server = await TestTokenServer.start({ client: CLIENT });
    revocation = await TestRevocationServer.start();
    const env = { ENCRYPTION_KEY, CREDENTIALS_REFRESH_TIMEOUT_MS: '1500' };
    a = await suite.boot(env);
    b = await suite.boot(env);
    runtime = await m2mToken(suite.m2m, 'health-runtime', 'credentials:use');
  });

  afterAll(async () => {
    server.up();
    await server?.stop();
    await revocation?.stop();
  });

  const bearer = (sub: string) => sessionBearer(suite.session, sub);
  const userIdOf = async (sub: string): Promise<string> =>
    (await suite.db.query<{ id: string }>('SELECT id FROM users WHERE external_id = $1', [sub]))[0]!.id;
  const seen = <T extends request.Response>(res: T): T => {
    answers.push(JSON.stringify(res.body), JSON.stringify(res.headers));
    return res;
  };

  const depositBody = (extra: Record<string, unknown> = {}) => {
    const refreshToken = server.grant();
    secrets.push(refreshToken);
    return {
      mcpServerId: 'srv',
      refreshToken,
      tokenEndpoint: server.tokenEndpoint,
      clientId: CLIENT.id,
      clientSecret: CLIENT.secret,
      ...extra,
    };
  };
  const deposit = async (t: TestApp, sub: string, body: Record<string, unknown>) =>
    seen(
      await request(t.http)
        .post(CREDENTIALS_PATH)
        .set('authorization', await bearer(sub))
        .send(body),
    );
  /** Deposits a credential the server accepts; the user's id. */
  const stored = async (sub: string, extra: Record<string, unknown> = {}): Promise<string> => {
    expect((await deposit(a, sub, depositBody(extra))).status).toBe(200);
    return userIdOf(sub);
  };
  const ask = async (t: TestApp, userId: string) =>
    seen(await requestAccessToken(t.http, runtime, { userId, mcpServerId: 'srv' }));
  const health = async (sub: string, t: TestApp = a): Promise<Health> => {
    const res = seen(
      await request(t.http)
        .get(CREDENTIALS_PATH)
        .set('authorization', await bearer(sub)),
    );
    expect(res.status).toBe(200);
    const [view] = (res.body as { credentials: Health[] }).credentials;
    return view!;
  };
  const endBackoff = (userId: string) =>
    suite.db.query(
      `UPDATE mcp_oauth_credentials SET backoff_until = now() - interval '1 second' WHERE user_id = $1`,
      [userId],
    );
  const storedRefreshToken = async (userId: string): Promise<string> => {
    const [row] = await suite.db.query<{ refresh_token_enc: Buffer; enc_key_version: number }>(
      'SELECT refresh_token_enc, enc_key_version FROM mcp_oauth_credentials WHERE user_id = $1',
      [userId],
    );
    return a.app
      .get(EncryptionService)
      .decrypt(
        row!.refresh_token_enc,
        row!.enc_key_version,
        credentialField(userId, 'srv', 'refresh_token_enc'),
      );
  };

  describe('the health in the list', () => {
    it('a new credential is healthy, never refreshed; a refresh sets lastRefreshedAt', async () => {
      const userId = await stored('h-new');
      expect(await health('h-new')).toEqual({
        mcpServerId: 'srv',
        tokenEndpoint: server.tokenEndpoint,
        clientId: CLIENT.id,
        authMethod: 'client_secret_basic',
        scopes: null,
        clientSecretExpiresAt: null,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        status: 'healthy',
        lastRefreshedAt: null,
        consecutiveFailures: 0,
        lastFailure: null,
      });
      const before = Date.now();
      expect((await ask(a, userId)).status).toBe(200);
      const after = await health('h-new');
      expect(after).toMatchObject({ status: 'healthy', consecutiveFailures: 0, lastFailure: null });
      expect(Date.parse(after.lastRefreshedAt!)).toBeGreaterThanOrEqual(before - 1000);
    });

    it('an expired client secret shows reauthorization_required (access tokens answer 409)', async () => {
      await stored('h-expired-secret', { clientSecretExpiresAt: '2001-01-01T00:00:00Z' });
      expect((await health('h-expired-secret')).status).toBe('reauthorization_required');
    });
  });

  describe('backoff', () => {
    it('three failures: failing, then 502 with Retry-After and no upstream call until the backoff ends; the next success recovers', async () => {
      const userId = await stored('h-backoff');
      for (const n of [1, 2, 3]) {
        server.failNext(n === 2 ? LEAKY_CODE : LEAKY_503);
        const res = await ask(a, userId);
        expect(res.status).toBe(502);
        expect((res.body as { error: { reason: string } }).error.reason).toBe('provider_unavailable');
        expect(res.headers['retry-after']).toBe(n === 3 ? '30' : undefined);
      }
      const failing = await health('h-backoff');
      expect(failing).toMatchObject({
        status: 'failing',
        consecutiveFailures: 3,
        lastFailure: { type: 'provider_unavailable', at: expect.stringMatching(/Z$/) },
      });

      // During the backoff: answered without calling the provider, on either instance.
      const calls = server.tokenRequests;
      for (const t of [a, b, a]) {
        const res = await ask(t, userId);
        expect(res.status).toBe(502);
        expect(res.body).toEqual({
          error: { type: 'upstream_failed', status: 502, message: expect.any(String), reason: 'backing_off' },
        });
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(30);
      }
      expect(server.tokenRequests).toBe(calls);
      expect((await health('h-backoff')).consecutiveFailures).toBe(3);

      // The backoff ends (moved in SQL, no sleep): the provider is tried once, and its success recovers.
      await endBackoff(userId);
      expect((await ask(b, userId)).status).toBe(200);
      expect(server.tokenRequests).toBe(calls + 1);
      const recovered = await health('h-backoff');
      expect(recovered).toMatchObject({ status: 'healthy', consecutiveFailures: 0 });
      expect(recovered.lastRefreshedAt).not.toBeNull();
      // The last failure stays on record (its type and time) after the recovery.
      expect(recovered.lastFailure).toEqual(failing.lastFailure);
    });

    it('two instances count one run of failures and share its backoff', async () => {
      const userId = await stored('h-pair');
      for (const [n, t] of [a, b, a].entries()) {
        server.failNext(LEAKY_503);
        const res = await ask(t, userId);
        expect({ n, status: res.status, retryAfter: res.headers['retry-after'] }).toEqual({
          n,
          status: 502,
          retryAfter: n === 2 ? '30' : undefined,
        });
      }
      const calls = server.tokenRequests;
      expect((await ask(b, userId)).headers['retry-after']).toBeDefined();
      expect((await health('h-pair', b)).consecutiveFailures).toBe(3);
      expect(server.tokenRequests).toBe(calls);
    });

    it('callers on two instances queued behind one failing refresh share its failure: one upstream call', async () => {
      const userId = await stored('h-queued');
      server.down(LEAKY_503);
      const release = server.hold();
      const calls = server.tokenRequests;
      const pending = concurrently(8, (i) => ask(i % 2 === 0 ? a : b, userId));
      // Both instances are in: one holds the row lock and waits for the provider, the other waits for the lock.
      await eventually(async () => server.tokenRequests === calls + 1 && (await lockWaiters()) >= 1);
      // The last of the 8 requests may still be on its way into an instance on a busy machine; one arriving after
      // the failure committed would rightly refresh again (one failure is no backoff). Give stragglers a moment
      // to queue before the provider answers (this orders the requests; it asserts nothing about speed).
      await new Promise((resolve) => setTimeout(resolve, 250));
      expect(server.tokenRequests).toBe(calls + 1);
      release();
      const results = await pending;
      server.up();
      expect(results.map((r) => r.status)).toEqual(Array(8).fill(502));
      expect(server.tokenRequests).toBe(calls + 1);
      expect((await health('h-queued')).consecutiveFailures).toBe(1);
    });

    it('invalid_grant: reauthorization_required, 409 without calling the provider until a new deposit, which resets the health', async () => {
      const userId = await stored('h-invalid-grant');
      server.failNext(LEAKY_INVALID_GRANT);
      const first = await ask(a, userId);
      expect(first.status).toBe(409);
      expect(first.body).toEqual(errorShape('reauthorization_required', 409));
      expect(await health('h-invalid-grant')).toMatchObject({
        status: 'reauthorization_required',
        consecutiveFailures: 1,
        lastFailure: { type: 'invalid_grant', at: expect.any(String) },
      });
      const calls = server.tokenRequests;
      for (const t of [a, b]) expect((await ask(t, userId)).status).toBe(409);
      expect(server.tokenRequests).toBe(calls);

      expect((await deposit(b, 'h-invalid-grant', depositBody())).status).toBe(200);
      expect(await health('h-invalid-grant')).toMatchObject({
        status: 'healthy',
        consecutiveFailures: 0,
        lastFailure: null,
        lastRefreshedAt: null,
      });
      expect((await ask(a, userId)).status).toBe(200);
    });
  });

  describe('validate on deposit', () => {
    const rowCount = async (sub: string): Promise<number> =>
      Number(
        (
          await suite.db.query<{ n: string }>(
            `SELECT count(*) AS n FROM mcp_oauth_credentials c JOIN users u ON u.id = c.user_id
             WHERE u.external_id = $1`,
            [sub],
          )
        )[0]!.n,
      );

    it('success: one refresh, the rotated refresh token stored, lastRefreshedAt set, no access token kept', async () => {
      const body = depositBody({ validate: true });
      const calls = server.tokenRequests;
      const res = await deposit(a, 'v-ok', body);
      expect(res.status).toBe(200);
      expect(server.tokenRequests).toBe(calls + 1);
      expect(server.requests.at(-1)).toMatchObject({ refreshToken: body.refreshToken, clientId: CLIENT.id });
      const userId = await userIdOf('v-ok');
      const kept = await storedRefreshToken(userId);
      expect(kept).not.toBe(body.refreshToken);
      expect(server.accepts(body.refreshToken)).toBe(false);
      expect(server.accepts(kept)).toBe(true);
      const [row] = await suite.db.query<{ access_token_enc: Buffer | null }>(
        'SELECT access_token_enc FROM mcp_oauth_credentials WHERE user_id = $1',
        [userId],
      );
      expect(row!.access_token_enc).toBeNull();
      const view = await health('v-ok');
      expect(view).toMatchObject({ status: 'healthy', consecutiveFailures: 0, lastFailure: null });
      expect(view.lastRefreshedAt).not.toBeNull();
      // The stored (rotated) token works.
      expect((await ask(b, userId)).status).toBe(200);
    });

    it('invalid_grant: 409 reauthorization_required, nothing stored, a stored credential left as it was', async () => {
      const res = await deposit(a, 'v-refused', {
        ...depositBody({ validate: true }),
        refreshToken: 'rt-never-issued',
      });
      expect(res.status).toBe(409);
      expect(res.body).toEqual(errorShape('reauthorization_required', 409));
      await userIdOf('v-refused');
      expect(await rowCount('v-refused')).toBe(0);

      const userId = await stored('v-replace');
      const before = await suite.db.query('SELECT * FROM mcp_oauth_credentials WHERE user_id = $1', [userId]);
      server.failNext(LEAKY_INVALID_GRANT);
      expect((await deposit(b, 'v-replace', depositBody({ validate: true }))).status).toBe(409);
      expect(
        await suite.db.query('SELECT * FROM mcp_oauth_credentials WHERE user_id = $1', [userId]),
      ).toEqual(before);
    });

    it.each([
      ['a failing provider', LEAKY_503, 'provider_unavailable'],
      [
        'a provider rejecting the client',
        { kind: 'status', status: 401, body: { error: 'invalid_client' } },
        'client_rejected',
      ],
      ['a hanging provider', { kind: 'hang' }, 'timeout'],
    ] as const)('%s: 502 upstream_failed with its reason, nothing stored', async (label, fault, reason) => {
      const sub = `v-${label.replace(/\W/g, '-')}`;
      server.failNext(fault);
      const res = await deposit(a, sub, depositBody({ validate: true }));
      expect(res.status).toBe(502);
      expect(res.body).toEqual({
        error: { type: 'upstream_failed', status: 502, message: expect.any(String), reason },
      });
      expect(await rowCount(sub)).toBe(0);
    });

    it('two validated deposits racing on two instances: both 200, one row, holding a token the server accepts', async () => {
      const bodies = [depositBody({ validate: true }), depositBody({ validate: true })];
      const results = await concurrently(2, (i) => deposit(i === 0 ? a : b, 'v-race', bodies[i]!));
      expect(results.map((r) => r.status)).toEqual([200, 200]);
      expect(await rowCount('v-race')).toBe(1);
      const userId = await userIdOf('v-race');
      expect(server.accepts(await storedRefreshToken(userId))).toBe(true);
      expect((await ask(a, userId)).status).toBe(200);
    });

    it('an unreachable provider: 502 upstream_failed, nothing stored', async () => {
      const gone = await TestTokenServer.start();
      const refreshToken = gone.grant();
      const tokenEndpoint = gone.tokenEndpoint;
      await gone.stop();
      const res = await deposit(a, 'v-unreachable', {
        mcpServerId: 'srv',
        refreshToken,
        tokenEndpoint,
        validate: true,
      });
      expect(res.status).toBe(502);
      expect((res.body as { error: { reason: string } }).error.reason).toBe('provider_unavailable');
      expect(await rowCount('v-unreachable')).toBe(0);
    });

    it('validate false or absent makes no call; a disabled user is refused before any call', async () => {
      const calls = server.tokenRequests;
      expect((await deposit(a, 'v-off', depositBody({ validate: false }))).status).toBe(200);
      expect((await deposit(a, 'v-off', depositBody())).status).toBe(200);
      await stored('v-disabled');
      await suite.db.query(`UPDATE users SET disabled_at = now() WHERE external_id = 'v-disabled'`);
      const res = await deposit(a, 'v-disabled', depositBody({ validate: true }));
      expect(res.body).toEqual(errorShape('identity_not_allowed', 403));
      expect(server.tokenRequests).toBe(calls);
    });

    it.each([
      ['a string', 'true'],
      ['null', null],
      ['a number', 1],
    ])('validate as %s: 400 naming validate', async (_label, validate) => {
      const res = await deposit(a, 'v-malformed', depositBody({ validate }));
      expect(res.body).toEqual(errorShape('validation_failed', 400));
      expect(JSON.stringify(res.body)).toContain('validate');
    });
  });

  describe('delete revokes upstream (RFC 7009)', () => {
    it('calls the revocation endpoint once, with the refresh token stored now (after a rotation)', async () => {
      const userId = await stored('d-once', { revocationEndpoint: revocation.url('/revoke') });
      expect((await ask(a, userId)).status).toBe(200);
      const current = await storedRefreshToken(userId);
      const res = seen(
        await request(b.http)
          .delete(`${CREDENTIALS_PATH}/srv`)
          .set('authorization', await bearer('d-once')),
      );
      expect(res.status).toBe(204);
      expect(revocation.seen.filter((s) => s.token === current)).toEqual([
        {
          path: '/revoke',
          token: current,
          tokenTypeHint: 'refresh_token',
          clientId: null,
          authorization: expect.stringMatching(/^Basic /),
        },
      ]);
    });

    it('answers 204 when the revocation endpoint is down, and the audit row says it was not confirmed', async () => {
      const down = await TestRevocationServer.start();
      const endpoint = down.url('/revoke');
      await down.stop();
      await stored('d-down', { revocationEndpoint: endpoint });
      const res = await request(a.http)
        .delete(`${CREDENTIALS_PATH}/srv`)
        .set('authorization', await bearer('d-down'));
      expect(res.status).toBe(204);
      const rows = await suite.db.query<{ upstream: boolean | null }>(
        `SELECT (metadata->>'upstreamRevoked')::boolean AS upstream FROM audit_events
          WHERE action = 'mcp_oauth_credential.delete' AND actor = 'session:d-down'`,
      );
      expect(rows).toEqual([{ upstream: false }]);
    });
  });

  it('the provider’s text is in no table, no answer and no log line; no deposited secret either', async () => {
    const all = [...secrets, ...server.issued];
    expect(await plaintextInTables(suite.db, [PROVIDER_SECRET, ...all])).toEqual([]);
    expect(answers.filter((s) => s.includes(PROVIDER_SECRET))).toEqual([]);
    for (const t of [a, b]) expect(t.logs.leaked([PROVIDER_SECRET, ...all])).toEqual([]);
    // The failures were logged, with keysmith's words only.
    expect(a.logs.lines.some((l) => l.includes('"oauthError":"unregistered"'))).toBe(true);
    // Every status change went through the one place (CredentialHealth.healthChanged), on either instance.
    const changes = [...a.logs.lines, ...b.logs.lines]
      .filter((l) => l.includes('credential health changed'))
      .map((l) => JSON.parse(l) as { from: string; to: string; cause: string });
    for (const [from, to, cause] of [
      ['healthy', 'failing', 'refresh'],
      ['failing', 'healthy', 'refresh'],
      ['healthy', 'reauthorization_required', 'refresh'],
      ['reauthorization_required', 'healthy', 'deposit'],
    ])
      expect(changes).toContainEqual(expect.objectContaining({ from, to, cause }));
    expect(changes.filter((c) => c.from === c.to)).toEqual([]);
  });

  /** Sessions of this suite's database waiting for a lock. */
  async function lockWaiters(): Promise<number> {
    const [row] = await suite.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    return Number(row!.n);
  }
});
