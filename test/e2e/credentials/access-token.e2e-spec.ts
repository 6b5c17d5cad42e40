import { randomUUID } from 'node:crypto';
import { credentialField } from 'src/credentials/credentials.encrypted-table';
import { EncryptionService } from 'src/crypto/encryption/encryption.service';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { depositCredential, requestAccessToken, type AccessTokenAnswer } from 'test/helpers/credentials';
import { plaintextInTables } from 'test/helpers/table-scan';
import { TestTokenServer } from 'test/helpers/token-server';
import { concurrently, eventually } from 'test/helpers/waiting';
import { m2mToken, sessionBearer } from 'test/helpers/issuers';
import { errorShape } from 'test/helpers/http';

const ENCRYPTION_KEY = 'e2e-access-token-master-secret-0123456789';
/** RFC 6749 §2.3.1 form-encodes Basic credentials: these characters prove it is done. */
const CLIENT = { id: 'client:one/a b', secret: 's3cr:t/+ %x&y=z' };

interface CredentialRow {
  id: string;
  user_id: string;
  refresh_token_enc: Buffer;
  enc_key_version: number;
  access_token_enc: Buffer | null;
  access_token_expires_at: Date | null;
  reauthorization_required_at: Date | null;
  consecutive_failures: number;
  backoff_until: Date | null;
  last_failure_reason: string | null;
}

describe('internal: POST /api/v1/internal/mcp-oauth-credentials/access-token', () => {
  const suite = e2eSuite();
  let t: TestApp;
  let confidential: TestTokenServer;
  let publicServer: TestTokenServer;
  let runtime: string;
  /** Every secret of this suite: deposited refresh tokens and client secrets, and what the servers issued. */
  const secrets: string[] = [CLIENT.secret];

  beforeAll(async () => {
    confidential = await TestTokenServer.start({ client: CLIENT });
    publicServer = await TestTokenServer.start({ client: { id: 'public-client' } });
    t = await suite.boot({ ENCRYPTION_KEY, CREDENTIALS_REFRESH_TIMEOUT_MS: '1500' });
    runtime = await m2mToken(suite.m2m, 'mcp-runtime', 'credentials:use');
  });

  afterAll(async () => {
    await confidential?.stop();
    await publicServer?.stop();
  });

  const bearer = (sub: string) => sessionBearer(suite.session, sub);
  const userIdOf = async (sub: string): Promise<string> =>
    (await suite.db.query<{ id: string }>('SELECT id FROM users WHERE external_id = $1', [sub]))[0]!.id;
  const rowOf = async (userId: string, mcpServerId: string): Promise<CredentialRow> =>
    (
      await suite.db.query<CredentialRow>(
        'SELECT * FROM mcp_oauth_credentials WHERE user_id = $1 AND mcp_server_id = $2',
        [userId, mcpServerId],
      )
    )[0]!;
  const storedRefreshToken = async (userId: string, mcpServerId: string): Promise<string> => {
    const row = await rowOf(userId, mcpServerId);
    return t.app
      .get(EncryptionService)
      .decrypt(
        row.refresh_token_enc,
        row.enc_key_version,
        credentialField(userId, mcpServerId, 'refresh_token_enc'),
      );
  };
  /** The cached access token is about to expire: the next call refreshes. */
  const expireCache = (userId: string, mcpServerId: string) =>
    suite.db.query(
      `UPDATE mcp_oauth_credentials SET access_token_expires_at = now() + interval '30 seconds'
       WHERE user_id = $1 AND mcp_server_id = $2`,
      [userId, mcpServerId],
    );

  /** Deposits a credential on `server` for `sub`, with a refresh token the server issued; its user id. */
  async function deposit(
    sub: string,
    mcpServerId: string,
    server: TestTokenServer,
    extra: Record<string, unknown> = {},
  ): Promise<{ userId: string; refreshToken: string }> {
    const refreshToken = server.grant();
    secrets.push(refreshToken);
    await depositCredential(t.http, await bearer(sub), {
      mcpServerId,
      refreshToken,
      tokenEndpoint: server.tokenEndpoint,
      ...(server === confidential
        ? { clientId: CLIENT.id, clientSecret: CLIENT.secret }
        : { clientId: 'public-client' }),
      scopes: 'tools:read tools:call',
      ...extra,
    });
    return { userId: await userIdOf(sub), refreshToken };
  }

  const ask = (userId: string, mcpServerId: string, token = runtime) =>
    requestAccessToken(t.http, token, { userId, mcpServerId });

  describe('the refresh-token grant', () => {
    it('client_secret_basic: answers a fresh token with no-store, and stores the rotated refresh token', async () => {
      const { userId, refreshToken } = await deposit('u-basic', 'srv', confidential, {
        authMethod: 'client_secret_basic',
      });
      const before = confidential.tokenRequests;
      const res = await ask(userId, 'srv');
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.body as AccessTokenAnswer;
      expect(body).toEqual({
        accessToken: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
        tokenType: 'Bearer',
        expiresAt: expect.stringMatching(/Z$/),
        scope: 'dummy',
      });
      expect(Date.parse(body.expiresAt!) - Date.now()).toBeGreaterThan(3500 * 1000);
      expect(confidential.tokenRequests).toBe(before + 1);
      expect(confidential.requests.at(-1)).toEqual({
        grantType: 'refresh_token',
        refreshToken,
        auth: 'client_secret_basic',
        clientId: CLIENT.id,
        clientSecret: CLIENT.secret,
      });
      // Rotation: the server retired the deposited token; the row holds the one it issued instead.
      expect(confidential.accepts(refreshToken)).toBe(false);
      const rotated = await storedRefreshToken(userId, 'srv');
      expect(rotated).not.toBe(refreshToken);
      expect(confidential.accepts(rotated)).toBe(true);
    });

    it('client_secret_post: the client id and secret go in the body', async () => {
      const { userId } = await deposit('u-post', 'srv', confidential, { authMethod: 'client_secret_post' });
      expect((await ask(userId, 'srv')).status).toBe(200);
      expect(confidential.requests.at(-1)).toMatchObject({
        auth: 'client_secret_post',
        clientId: CLIENT.id,
        clientSecret: CLIENT.secret,
      });
    });

    it('none: a public client sends its id in the body and no secret', async () => {
      const { userId } = await deposit('u-public', 'srv', publicServer);
      expect((await ask(userId, 'srv')).status).toBe(200);
      expect(publicServer.requests.at(-1)).toMatchObject({
        auth: 'none',
        clientId: 'public-client',
        clientSecret: undefined,
      });
    });

    it('serves a still-valid token from the encrypted cache, and refreshes shortly before expiry', async () => {
      const { userId } = await deposit('u-cache', 'srv', confidential);
      const first = (await ask(userId, 'srv')).body as AccessTokenAnswer;
      const count = confidential.tokenRequests;
      const cached = await ask(userId, 'srv');
      expect(cached.status).toBe(200);
      expect(cached.body).toEqual(first);
      expect(confidential.tokenRequests).toBe(count);
      expect((await rowOf(userId, 'srv')).access_token_enc).not.toBeNull();

      const rotated = await storedRefreshToken(userId, 'srv');
      await expireCache(userId, 'srv');
      expect((await ask(userId, 'srv')).status).toBe(200);
      expect(confidential.tokenRequests).toBe(count + 1);
      expect(confidential.requests.at(-1)!.refreshToken).toBe(rotated);
    });

    it('follows a chain of rotations, each refresh using the token the previous one stored', async () => {
      const { userId } = await deposit('u-chain', 'srv', confidential);
      const seen: string[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await ask(userId, 'srv');
        expect(res.status).toBe(200);
        seen.push(confidential.requests.at(-1)!.refreshToken!);
        await expireCache(userId, 'srv');
      }
      expect(new Set(seen).size).toBe(4);
    });

    it('keeps the refresh token when the server does not rotate it', async () => {
      const steady = await TestTokenServer.start({ rotate: false });
      try {
        const { userId, refreshToken } = await deposit('u-steady', 'srv', steady, { clientId: 'x' });
        for (let i = 0; i < 2; i++) {
          expect((await ask(userId, 'srv')).status).toBe(200);
          await expireCache(userId, 'srv');
        }
        expect(await storedRefreshToken(userId, 'srv')).toBe(refreshToken);
        secrets.push(...steady.issued);
      } finally {
        await steady.stop();
      }
    });

    it('does not cache a token without expires_in (expiresAt null) or one about to expire', async () => {
      for (const expiresIn of [null, 30]) {
        const server = await TestTokenServer.start({ expiresIn });
        try {
          const { userId } = await deposit(`u-nocache-${String(expiresIn)}`, 'srv', server);
          const res = await ask(userId, 'srv');
          expect(res.status).toBe(200);
          if (expiresIn === null) expect((res.body as AccessTokenAnswer).expiresAt).toBeNull();
          expect((await rowOf(userId, 'srv')).access_token_enc).toBeNull();
          expect((await ask(userId, 'srv')).status).toBe(200);
          expect(server.tokenRequests).toBe(2);
          secrets.push(...server.issued);
        } finally {
          await server.stop();
        }
      }
    });

    it('sends the deposited resource indicator (RFC 8707) with every refresh, and none when there is none', async () => {
      const resource = 'https://mcp.example.com/mcp';
      const { userId } = await deposit('u-resource', 'srv', confidential, { resource });
      for (let i = 0; i < 2; i++) {
        expect((await ask(userId, 'srv')).status).toBe(200);
        expect(confidential.requests.at(-1)!.resource).toBe(resource);
        await expireCache(userId, 'srv');
      }
      const { userId: plain } = await deposit('u-no-resource', 'srv', confidential);
      expect((await ask(plain, 'srv')).status).toBe(200);
      expect(confidential.requests.at(-1)!.resource).toBeUndefined();
    });

    it.each([
      ['255 ASCII characters', 'm'.repeat(255)],
      ['255 two-byte characters', 'é'.repeat(255)],
      ['255 emoji (four bytes, two UTF-16 units each)', '🔑'.repeat(255)],
    ])('serves a server id of %s', async (_label, mcpServerId) => {
      const { userId } = await deposit('u-long-id', mcpServerId, confidential);
      const res = await ask(userId, mcpServerId);
      expect(res.status).toBe(200);
    });

    it('answers the deposited scopes when the server reports none', async () => {
      const server = await TestTokenServer.start();
      server.failNext({
        kind: 'status',
        status: 200,
        body: { access_token: 'opaque-access-token-value', token_type: 'bearer', expires_in: '600' },
      });
      try {
        const { userId } = await deposit('u-scope', 'srv', server);
        secrets.push('opaque-access-token-value');
        expect((await ask(userId, 'srv')).body).toEqual({
          accessToken: 'opaque-access-token-value',
          tokenType: 'bearer',
          expiresAt: expect.any(String),
          scope: 'tools:read tools:call',
        });
      } finally {
        await server.stop();
      }
    });
  });

  describe('single flight', () => {
    it('gives ten concurrent callers one refresh and the same token', async () => {
      const { userId } = await deposit('u-ten', 'srv', confidential);
      const before = confidential.tokenRequests;
      const release = confidential.hold();
      const calls = concurrently(10, () => ask(userId, 'srv').then((r) => r));
      await eventually(() => confidential.tokenRequests === before + 1);
      release();
      const results = await calls;
      expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
      expect(new Set(results.map((r) => (r.body as AccessTokenAnswer).accessToken)).size).toBe(1);
      expect(confidential.tokenRequests).toBe(before + 1);
    });
  });

  describe('failures', () => {
    it('invalid_grant: 409 reauthorization_required until the user deposits again', async () => {
      const { userId } = await deposit('u-revoked', 'srv', confidential);
      expect((await ask(userId, 'srv')).status).toBe(200);
      confidential.revoke(await storedRefreshToken(userId, 'srv'));
      await expireCache(userId, 'srv');

      const res = await ask(userId, 'srv');
      expect(res.status).toBe(409);
      expect(res.body).toEqual(errorShape('reauthorization_required', 409));
      const row = await rowOf(userId, 'srv');
      expect(row.reauthorization_required_at).not.toBeNull();
      expect(row.access_token_enc).toBeNull();
      const audit = await suite.db.query<{ actor: string; metadata: unknown }>(
        "SELECT actor, metadata FROM audit_events WHERE action = 'mcp_oauth_credential.reauthorization_required'",
      );
      expect(audit).toEqual([{ actor: 'm2m:mcp-runtime', metadata: { userId, mcpServerId: 'srv' } }]);

      // No more calls to the server until the user deposits again.
      const count = confidential.tokenRequests;
      expect((await ask(userId, 'srv')).status).toBe(409);
      expect(confidential.tokenRequests).toBe(count);
      await deposit('u-revoked', 'srv', confidential);
      expect((await ask(userId, 'srv')).status).toBe(200);
    });

    it.each([
      [
        'a 503',
        { kind: 'status', status: 503, body: { error: 'temporarily_unavailable' } },
        'provider_unavailable',
      ],
      ['a 500 without a body', { kind: 'status', status: 500 }, 'provider_unavailable'],
      ['a 429', { kind: 'status', status: 429 }, 'provider_unavailable'],
      [
        'invalid_client',
        { kind: 'status', status: 401, body: { error: 'invalid_client' } },
        'client_rejected',
      ],
      [
        'unauthorized_client in a 400',
        { kind: 'status', status: 400, body: { error: 'unauthorized_client' } },
        'client_rejected',
      ],
      [
        'invalid_scope',
        { kind: 'status', status: 400, body: { error: 'invalid_scope' } },
        'request_rejected',
      ],
      [
        'a 200 without an access token',
        { kind: 'status', status: 200, body: { token_type: 'Bearer' } },
        'invalid_response',
      ],
      ['an answer over 64 KiB', { kind: 'oversize' }, 'invalid_response'],
      ['a redirect', { kind: 'redirect', location: 'https://elsewhere.example/' }, 'invalid_response'],
      ['a hanging token endpoint (timeout)', { kind: 'hang' }, 'timeout'],
    ] as const)(
      '%s: 502 upstream_failed with its reason, and nothing is lost',
      async (label, fault, reason) => {
        const { userId, refreshToken } = await deposit(`u-fail-${label}`, 'srv', confidential);
        const before = await rowOf(userId, 'srv');
        confidential.failNext(fault);
        const res = await ask(userId, 'srv');
        expect(res.status).toBe(502);
        expect(res.body).toEqual({
          error: { type: 'upstream_failed', status: 502, message: expect.any(String), reason },
        });
        // One failure is below the backoff threshold: no Retry-After yet.
        expect(res.headers['retry-after']).toBeUndefined();
        expect(await rowOf(userId, 'srv')).toMatchObject({
          consecutive_failures: 1,
          last_failure_reason: reason,
        });
        const after = await rowOf(userId, 'srv');
        expect(after.refresh_token_enc.equals(before.refresh_token_enc)).toBe(true);
        expect(after.reauthorization_required_at).toBeNull();
        expect(confidential.accepts(refreshToken)).toBe(true);
        // The next call succeeds with the refresh token that was kept, and ends the run of failures.
        expect((await ask(userId, 'srv')).status).toBe(200);
        expect(await rowOf(userId, 'srv')).toMatchObject({ consecutive_failures: 0, backoff_until: null });
      },
    );

    it('logs upstream failures at warn, without a stack, and never at error level', () => {
      const failures = t.logs.lines.filter((l) => l.includes('token refresh failed'));
      expect(failures.length).toBeGreaterThan(0);
      for (const line of failures) {
        expect(line).not.toContain('"stack"');
        expect((JSON.parse(line) as { level: unknown }).level).toBe(40);
      }
      // Not even the exception filter's "request failed": a 502 of a peer is no keysmith error.
      expect(t.logs.lines.filter((l) => /"level":50/.test(l))).toEqual([]);
    });

    it('backs off after CREDENTIALS_FAILURES_BEFORE_BACKOFF (3) failures in a row: 502 backing_off with Retry-After, the provider left alone, doubling', async () => {
      const { userId } = await deposit('u-backoff', 'srv', confidential);
      const failOnce = async () => {
        confidential.failNext({ kind: 'status', status: 503 });
        return ask(userId, 'srv');
      };
      for (const n of [1, 2]) {
        const res = await failOnce();
        expect({ n, status: res.status, retryAfter: res.headers['retry-after'] }).toEqual({
          n,
          status: 502,
          retryAfter: undefined,
        });
      }
      // The third failure starts the backoff: 30 s.
      const third = await failOnce();
      expect((third.body as { error: { reason: string } }).error.reason).toBe('provider_unavailable');
      expect(third.headers['retry-after']).toBe('30');

      const count = confidential.tokenRequests;
      const backingOff = await ask(userId, 'srv');
      expect(backingOff.status).toBe(502);
      expect(backingOff.body).toEqual({
        error: { type: 'upstream_failed', status: 502, message: expect.any(String), reason: 'backing_off' },
      });
      const left = Number(backingOff.headers['retry-after']);
      expect(left).toBeGreaterThan(0);
      expect(left).toBeLessThanOrEqual(30);
      expect(confidential.tokenRequests).toBe(count);

      // When the backoff ends, the provider is tried again; a fourth failure doubles it.
      const endBackoff = () =>
        suite.db.query(
          `UPDATE mcp_oauth_credentials SET backoff_until = now() - interval '1 second'
           WHERE user_id = $1 AND mcp_server_id = 'srv'`,
          [userId],
        );
      await endBackoff();
      const fourth = await failOnce();
      expect(fourth.headers['retry-after']).toBe('60');
      expect(confidential.tokenRequests).toBe(count + 1);
      expect((await rowOf(userId, 'srv')).consecutive_failures).toBe(4);

      // The first success ends it all.
      await endBackoff();
      expect((await ask(userId, 'srv')).status).toBe(200);
      expect(await rowOf(userId, 'srv')).toMatchObject({ consecutive_failures: 0, backoff_until: null });
    });

    it('a new deposit ends a backoff', async () => {
      const { userId } = await deposit('u-backoff-redeposit', 'srv', confidential);
      for (let i = 0; i < 3; i++) {
        confidential.failNext({ kind: 'status', status: 500 });
        expect((await ask(userId, 'srv')).status).toBe(502);
      }
      expect((await ask(userId, 'srv')).headers['retry-after']).toBeDefined();
      await deposit('u-backoff-redeposit', 'srv', confidential);
      expect(await rowOf(userId, 'srv')).toMatchObject({ consecutive_failures: 0, backoff_until: null });
      expect((await ask(userId, 'srv')).status).toBe(200);
    });

    it('an unreachable token endpoint: 502 upstream_failed, provider_unavailable', async () => {
      const gone = await TestTokenServer.start();
      const { userId } = await deposit('u-gone', 'srv', gone);
      await gone.stop();
      const res = await ask(userId, 'srv');
      expect(res.status).toBe(502);
      expect((res.body as { error: { reason: string } }).error.reason).toBe('provider_unavailable');
    });

    it('an expired client secret: 409 without calling the server', async () => {
      const { userId } = await deposit('u-expired-secret', 'srv', confidential, {
        clientSecretExpiresAt: '2001-01-01T00:00:00Z',
      });
      const count = confidential.tokenRequests;
      const res = await ask(userId, 'srv');
      expect(res.status).toBe(409);
      expect(res.body).toEqual(errorShape('reauthorization_required', 409));
      expect(confidential.tokenRequests).toBe(count);
    });
  });

  describe('who may ask, for what', () => {
    it('404 when nothing is stored: unknown server, unknown user, another user’s server', async () => {
      const { userId } = await deposit('u-owner', 'owned', confidential);
      await deposit('u-other', 'other-only', confidential);
      for (const [uid, server] of [
        [userId, 'never-deposited'],
        [randomUUID(), 'owned'],
        [userId, 'other-only'],
      ] as const) {
        const res = await ask(uid, server);
        expect({ status: res.status, body: res.body as unknown }).toEqual({
          status: 404,
          body: errorShape('not_found', 404),
        });
      }
    });

    it('403 identity_not_allowed for a disabled user, without calling the server', async () => {
      const { userId } = await deposit('u-disabled', 'srv', confidential);
      await suite.db.query('UPDATE users SET disabled_at = now() WHERE id = $1', [userId]);
      const count = confidential.tokenRequests;
      const res = await ask(userId, 'srv');
      expect(res.status).toBe(403);
      expect(res.body).toEqual(errorShape('identity_not_allowed', 403));
      expect(confidential.tokenRequests).toBe(count);
    });

    it('403 forbidden without the credentials:use scope; 401 for a session token', async () => {
      const { userId } = await deposit('u-scopes', 'srv', confidential);
      const other = await m2mToken(suite.m2m, 'other-service', 'apikeys:resolve');
      expect((await ask(userId, 'srv', other)).body).toEqual(errorShape('forbidden', 403));
      const session = await suite.session.token({ sub: 'u-scopes', scope: 'credentials:use' });
      expect((await ask(userId, 'srv', session)).body).toEqual(errorShape('unauthorized', 401));
    });

    it.each([
      ['a userId that is not a UUID', { userId: 'u-1', mcpServerId: 'srv' }],
      ['a missing mcpServerId', { userId: randomUUID() }],
      ['a missing userId', { mcpServerId: 'srv' }],
      ['an unknown field', { userId: randomUUID(), mcpServerId: 'srv', refreshToken: 'x' }],
      ['an oversize mcpServerId', { userId: randomUUID(), mcpServerId: 'x'.repeat(256) }],
      ['a null mcpServerId', { userId: randomUUID(), mcpServerId: null }],
    ])('400 for %s', async (_label, body) => {
      const res = await requestAccessToken(t.http, runtime, body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(errorShape('validation_failed', 400));
    });

    it('503 encryption_key_missing on an instance without a key', async () => {
      const { userId } = await deposit('u-keyless', 'srv', confidential);
      const keyless = await suite.boot({});
      const res = await requestAccessToken(keyless.http, runtime, { userId, mcpServerId: 'srv' });
      expect(res.status).toBe(503);
      expect(res.body).toEqual(errorShape('encryption_key_missing', 503));
    });

    it('503 encryption_key_missing for a value this instance cannot decrypt, and the row is left as it was', async () => {
      const { userId } = await deposit('u-undecryptable', 'srv', confidential);
      // Another credential's ciphertext moved onto this row: it fails authentication under this row's field.
      const { userId: otherId } = await deposit('u-undecryptable-other', 'srv', confidential);
      await suite.db.query(
        `UPDATE mcp_oauth_credentials SET refresh_token_enc = o.refresh_token_enc, access_token_enc = NULL
           FROM (SELECT refresh_token_enc FROM mcp_oauth_credentials WHERE user_id = $2) o
          WHERE user_id = $1`,
        [userId, otherId],
      );
      const before = await rowOf(userId, 'srv');
      const requests = confidential.tokenRequests;
      const res = await ask(userId, 'srv');
      expect(res.status).toBe(503);
      expect(res.body).toEqual(errorShape('encryption_key_missing', 503));
      expect(res.headers['retry-after']).toBeDefined();
      expect(confidential.tokenRequests).toBe(requests);
      expect(await rowOf(userId, 'srv')).toEqual(before);
    });
  });

  it('leaves no secret in plaintext in any table, and none in the logs', async () => {
    const all = [...secrets, ...confidential.issued, ...publicServer.issued];
    // Runs last: by now the suite has deposited and been issued dozens of secrets.
    expect(all.length).toBeGreaterThan(50);
    expect(await plaintextInTables(suite.db, all)).toEqual([]);
    expect(t.logs.leaked(all)).toEqual([]);
  });
});
