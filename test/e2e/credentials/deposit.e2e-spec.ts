import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { EncryptionService } from 'src/crypto/encryption/encryption.service';
import { credentialField } from 'src/credentials/credentials.encrypted-table';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { plaintextInTables } from 'test/helpers/table-scan';
import { sessionBearer, sessionEnv, TestIssuer } from 'test/helpers/issuers';
import { concurrently } from 'test/helpers/waiting';
import { errorShape } from 'test/helpers/http';

const PATH = '/api/v1/mcp-oauth-credentials';
const ENCRYPTION_KEY = 'e2e-credentials-master-secret-0123456789';
const ENDPOINT = 'https://auth.example.com/oauth/token';

interface CredentialView {
  mcpServerId: string;
  tokenEndpoint: string;
  clientId: string | null;
  authMethod: string;
  scopes: string | null;
  clientSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
  status: string;
  lastRefreshedAt: string | null;
  consecutiveFailures: number;
  lastFailure: { type: string; at: string } | null;
}

describe('credentials: deposit, list and delete (session)', () => {
  const suite = e2eSuite({ issuers: false });
  let issuer: TestIssuer;
  let t: TestApp;
  /** Every secret this suite deposits: none may reach a table in plaintext, a log line or an answer. */
  const secrets: string[] = [];
  const secret = (label: string): string => {
    const value = `${label}-${randomBytes(12).toString('base64url')}`;
    secrets.push(value);
    return value;
  };

  beforeAll(async () => {
    issuer = await TestIssuer.start('keysmith-developer');
    t = await suite.start({ ...sessionEnv(issuer), ENCRYPTION_KEY });
  });

  suite.beforeTeardown(async () => {
    expect(await plaintextInTables(suite.db, secrets)).toEqual([]);
    if (t) expect(t.logs.leaked(secrets)).toEqual([]);
  });

  afterAll(async () => {
    await issuer?.stop();
  });

  const call = async (
    sub: string,
    method: 'get' | 'post' | 'delete',
    path: string,
    body?: unknown,
    app: TestApp = t,
  ): Promise<request.Response> => {
    const req = request(app.http)
      [method](path)
      .set('authorization', await sessionBearer(issuer, sub));
    const res = body === undefined ? await req : await req.send(body as object);
    // An answer never echoes a secret.
    for (const s of secrets) expect(res.text).not.toContain(s);
    return res;
  };
  const deposit = (sub: string, body: unknown, app?: TestApp) => call(sub, 'post', PATH, body, app);
  const list = async (sub: string): Promise<CredentialView[]> => {
    const res = await call(sub, 'get', PATH);
    expect(res.status).toBe(200);
    return (res.body as { credentials: CredentialView[] }).credentials;
  };
  const full = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    mcpServerId: 'github',
    refreshToken: secret('rt'),
    tokenEndpoint: ENDPOINT,
    clientId: 'client-1',
    clientSecret: secret('cs'),
    clientSecretExpiresAt: '2031-01-01T00:00:00Z',
    authMethod: 'client_secret_post',
    scopes: 'repo read:user',
    ...extra,
  });
  const minimal = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    mcpServerId: 'linear',
    refreshToken: secret('rt'),
    tokenEndpoint: ENDPOINT,
    ...extra,
  });
  const rowsOf = (sub: string) =>
    suite.db.query<{ mcp_server_id: string; refresh_token_enc: Buffer; enc_key_version: number; id: string }>(
      `SELECT c.* FROM mcp_oauth_credentials c JOIN users u ON u.id = c.user_id WHERE u.external_id = $1
       ORDER BY mcp_server_id`,
      [sub],
    );
  const userId = async (sub: string): Promise<string> =>
    (await suite.db.query<{ id: string }>('SELECT id FROM users WHERE external_id = $1', [sub]))[0]!.id;
  const countAll = async (): Promise<number> =>
    Number((await suite.db.query<{ n: string }>('SELECT count(*) AS n FROM mcp_oauth_credentials'))[0]!.n);

  describe('the contract', () => {
    it('deposits: 200 with the server id and dates only, no-store; the list shows metadata only', async () => {
      const body = full();
      const res = await deposit('alice', body);
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({
        mcpServerId: 'github',
        createdAt: expect.stringMatching(/Z$/),
        updatedAt: expect.stringMatching(/Z$/),
      });
      expect(await list('alice')).toEqual([
        {
          mcpServerId: 'github',
          tokenEndpoint: ENDPOINT,
          clientId: 'client-1',
          authMethod: 'client_secret_post',
          scopes: 'repo read:user',
          clientSecretExpiresAt: '2031-01-01T00:00:00.000Z',
          createdAt: (res.body as CredentialView).createdAt,
          updatedAt: (res.body as CredentialView).updatedAt,
          status: 'healthy',
          lastRefreshedAt: null,
          consecutiveFailures: 0,
          lastFailure: null,
        },
      ]);
    });

    it('stores the secrets encrypted, bound to the user and the server', async () => {
      const body = minimal({ mcpServerId: 'encrypted-check' });
      expect((await deposit('alice', body)).status).toBe(200);
      const [row] = (await rowsOf('alice')).filter((r) => r.mcp_server_id === 'encrypted-check');
      const encryption = t.app.get(EncryptionService);
      const uid = await userId('alice');
      expect(row!.enc_key_version).toBe(1);
      expect(
        encryption.decrypt(
          row!.refresh_token_enc,
          1,
          credentialField(uid, 'encrypted-check', 'refresh_token_enc'),
        ),
      ).toBe(body.refreshToken);
      expect(() =>
        encryption.decrypt(row!.refresh_token_enc, 1, credentialField(uid, 'github', 'refresh_token_enc')),
      ).toThrow();
    });

    it('is an upsert on (user, server): a second deposit replaces the first and starts afresh', async () => {
      const first = await deposit('bob', full({ mcpServerId: 'notion' }));
      const [before] = await rowsOf('bob');
      await suite.db.query(
        `UPDATE mcp_oauth_credentials SET reauthorization_required_at = now(), access_token_enc = '\\x01',
           access_token_type = 'Bearer', access_token_expires_at = now() + interval '1 hour'
         WHERE id = $1`,
        [before!.id],
      );
      const replacement = minimal({ mcpServerId: 'notion', tokenEndpoint: 'https://other.example.com/t' });
      const second = await deposit('bob', replacement);
      expect(second.status).toBe(200);
      expect((second.body as CredentialView).createdAt).toBe((first.body as CredentialView).createdAt);
      expect(Date.parse((second.body as CredentialView).updatedAt)).toBeGreaterThanOrEqual(
        Date.parse((first.body as CredentialView).updatedAt),
      );
      const rows = await suite.db.query<Record<string, unknown>>(
        'SELECT * FROM mcp_oauth_credentials WHERE id = $1',
        [before!.id],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        token_endpoint: 'https://other.example.com/t',
        client_id: null,
        client_secret_enc: null,
        scopes: null,
        auth_method: 'none',
        reauthorization_required_at: null,
        access_token_enc: null,
        access_token_type: null,
        access_token_expires_at: null,
      });
      expect(await list('bob')).toEqual([
        expect.objectContaining({ mcpServerId: 'notion', tokenEndpoint: 'https://other.example.com/t' }),
      ]);
    });

    it('defaults authMethod to client_secret_basic with a secret and none without', async () => {
      await deposit('carol', minimal({ mcpServerId: 'a', clientId: 'c', clientSecret: secret('cs') }));
      await deposit('carol', minimal({ mcpServerId: 'b', clientId: 'c' }));
      expect((await list('carol')).map((c) => [c.mcpServerId, c.authMethod])).toEqual([
        ['a', 'client_secret_basic'],
        ['b', 'none'],
      ]);
    });

    it('deletes: 204 with no body; then 404; the list is empty', async () => {
      await deposit('dave', minimal({ mcpServerId: 'to-delete' }));
      const res = await call('dave', 'delete', `${PATH}/to-delete`);
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      expect(await list('dave')).toEqual([]);
      const again = await call('dave', 'delete', `${PATH}/to-delete`);
      expect(again.status).toBe(404);
      expect(again.body).toEqual(errorShape('not_found', 404));
    });

    it('takes any deposited server id in the path (URL-encoded) and refuses malformed ones', async () => {
      const id = 'team/mcp server #1';
      expect((await deposit('dave', minimal({ mcpServerId: id }))).status).toBe(200);
      expect((await call('dave', 'delete', `${PATH}/${encodeURIComponent(id)}`)).status).toBe(204);
      const long = await call('dave', 'delete', `${PATH}/${'x'.repeat(256)}`);
      expect(long.status).toBe(400);
      expect(long.body).toEqual(errorShape('validation_failed', 400));
      expect((await call('dave', 'delete', `${PATH}/a%00b`)).status).toBe(400);
    });

    it.each([
      ['255 ASCII characters', 'a'.repeat(255)],
      ['255 two-byte characters', 'é'.repeat(255)],
      ['255 three-byte characters', '漢'.repeat(255)],
      ['255 emoji (four bytes each)', '🔑'.repeat(255)],
      [
        '255 characters of every kind, reserved URL characters included',
        'a/é ?#%🔑&+'.repeat(25).slice(0, 255),
      ],
    ])('deposits, lists and deletes a server id of %s', async (_label, id) => {
      expect((await deposit('long-ids', minimal({ mcpServerId: id }))).status).toBe(200);
      expect((await list('long-ids')).map((c) => c.mcpServerId)).toEqual([id]);
      const res = await call('long-ids', 'delete', `${PATH}/${encodeURIComponent(id)}`);
      expect(res.status).toBe(204);
      expect(await list('long-ids')).toEqual([]);
    });

    it('refuses a server id of 256 characters on every route', async () => {
      for (const id of ['a'.repeat(256), '🔑'.repeat(256)]) {
        expect((await deposit('long-ids', minimal({ mcpServerId: id }))).status).toBe(400);
        const res = await call('long-ids', 'delete', `${PATH}/${encodeURIComponent(id)}`);
        expect(res.body).toEqual(errorShape('validation_failed', 400));
      }
    });

    it('stores the resource indicator as given, in plain text (it is no secret); the list leaves it out as the contract does', async () => {
      const resource = 'https://mcp.example.com/mcp?tenant=a';
      expect((await deposit('rita', minimal({ mcpServerId: 'with-resource', resource }))).status).toBe(200);
      const [row] = await suite.db.query<{ resource: string | null }>(
        `SELECT c.resource FROM mcp_oauth_credentials c JOIN users u ON u.id = c.user_id
         WHERE u.external_id = 'rita'`,
      );
      expect(row!.resource).toBe(resource);
      const [view] = await list('rita');
      expect(view).not.toHaveProperty('resource');
      // A second deposit without one clears it.
      expect((await deposit('rita', minimal({ mcpServerId: 'with-resource' }))).status).toBe(200);
      const [after] = await suite.db.query<{ resource: string | null }>(
        `SELECT c.resource FROM mcp_oauth_credentials c JOIN users u ON u.id = c.user_id
         WHERE u.external_id = 'rita'`,
      );
      expect(after!.resource).toBeNull();
    });

    it('refuses an http resource where token endpoints must be https', async () => {
      const strict = await suite.start({
        ...sessionEnv(issuer),
        ENCRYPTION_KEY,
        CREDENTIALS_REQUIRE_HTTPS: 'true',
      });
      try {
        const res = await deposit(
          'rita',
          minimal({ mcpServerId: 'http-resource', resource: 'http://mcp.example.com/mcp' }),
          strict,
        );
        expect(res.status).toBe(400);
        expect((res.body as { error: { details: { field: string }[] } }).error.details[0]!.field).toBe(
          'resource',
        );
        // Where http token endpoints are allowed (development), an http resource is too.
        expect(
          (
            await deposit(
              'rita',
              minimal({ mcpServerId: 'http-resource', resource: 'http://127.0.0.1:8080/mcp' }),
            )
          ).status,
        ).toBe(200);
      } finally {
        await strict.close();
      }
    });

    it('writes one audit row per deposit and deletion, with ids and no secret', async () => {
      await deposit('erin', full({ mcpServerId: 'audited' }));
      await call('erin', 'delete', `${PATH}/audited`);
      const events = await suite.db.query<{
        action: string;
        actor: string;
        target_id: string;
        metadata: unknown;
      }>(
        `SELECT action, actor, target_id, metadata FROM audit_events
         WHERE actor = 'session:erin' ORDER BY at, action DESC`,
      );
      expect(events).toEqual([
        {
          action: 'mcp_oauth_credential.deposit',
          actor: 'session:erin',
          target_id: expect.any(String),
          metadata: {
            mcpServerId: 'audited',
            endpointHost: 'auth.example.com',
            authMethod: 'client_secret_post',
            replaced: false,
            validated: false,
          },
        },
        {
          action: 'mcp_oauth_credential.delete',
          actor: 'session:erin',
          target_id: events[0]!.target_id,
          // No revocation endpoint was deposited: nothing was revoked upstream (issue 20).
          metadata: { mcpServerId: 'audited', upstreamRevoked: null },
        },
      ]);
    });
  });

  describe('users are isolated', () => {
    it('never shows, deletes or overwrites another user’s credential', async () => {
      await deposit('frank', minimal({ mcpServerId: 'shared-name' }));
      expect(await list('grace')).toEqual([]);
      const res = await call('grace', 'delete', `${PATH}/shared-name`);
      expect(res.status).toBe(404);
      expect(res.body).toEqual(errorShape('not_found', 404));
      expect((await deposit('grace', minimal({ mcpServerId: 'shared-name' }))).status).toBe(200);
      expect(await rowsOf('frank')).toHaveLength(1);
      expect(await rowsOf('grace')).toHaveLength(1);
      expect((await rowsOf('frank'))[0]!.id).not.toBe((await rowsOf('grace'))[0]!.id);
    });

    it('takes the user from the session only: a userId in the body is refused', async () => {
      await deposit('heidi', minimal({ mcpServerId: 'mine' }));
      const heidi = await userId('heidi');
      const before = await countAll();
      const res = await deposit('ivan', minimal({ mcpServerId: 'mine', userId: heidi }));
      expect(res.status).toBe(400);
      expect(res.body).toEqual(errorShape('validation_failed', 400));
      expect(await countAll()).toBe(before);
    });

    it('refuses a token from another issuer with the one 401', async () => {
      const stranger = await TestIssuer.start('keysmith-developer');
      try {
        const res = await request(t.http)
          .post(PATH)
          .set('authorization', `Bearer ${await stranger.token({ sub: 'alice' })}`)
          .send(minimal());
        expect(res.status).toBe(401);
        expect(res.body).toEqual(errorShape('unauthorized', 401));
      } finally {
        await stranger.stop();
      }
    });
  });

  describe('strict validation (400, nothing stored)', () => {
    const cases: [string, () => Record<string, unknown>][] = [
      ['a smuggled userId', () => minimal({ userId: '00000000-0000-4000-8000-000000000000' })],
      ['an unknown field', () => minimal({ accessToken: 'x' })],
      ['a missing tokenEndpoint', () => ({ mcpServerId: 'v', refreshToken: secret('rt') })],
      ['a missing refreshToken', () => ({ mcpServerId: 'v', tokenEndpoint: ENDPOINT })],
      ['a missing mcpServerId', () => ({ refreshToken: secret('rt'), tokenEndpoint: ENDPOINT })],
      ['an empty mcpServerId', () => minimal({ mcpServerId: '   ' })],
      ['an oversize mcpServerId', () => minimal({ mcpServerId: 'm'.repeat(256) })],
      ['an oversize refreshToken', () => minimal({ refreshToken: 'r'.repeat(4097) })],
      [
        'an oversize tokenEndpoint',
        () => minimal({ tokenEndpoint: `https://a.example/${'p'.repeat(2040)}` }),
      ],
      ['an oversize clientId', () => minimal({ clientId: 'c'.repeat(256) })],
      ['an oversize clientSecret', () => minimal({ clientId: 'c', clientSecret: 's'.repeat(1025) })],
      ['an oversize scopes', () => minimal({ scopes: 's'.repeat(2049) })],
      ['an oversize authMethod', () => minimal({ authMethod: 'a'.repeat(65) })],
      ['an unsupported authMethod', () => minimal({ authMethod: 'private_key_jwt' })],
      ['an unparseable date', () => minimal({ clientSecretExpiresAt: 'next tuesday' })],
      ['an impossible date', () => minimal({ clientSecretExpiresAt: '2031-13-45' })],
      ['a date-time without a zone', () => minimal({ clientSecretExpiresAt: '2031-01-01T00:00:00' })],
      ['a date past year 9999', () => minimal({ clientSecretExpiresAt: '+010000-01-01T00:00:00Z' })],
      ['a numeric date', () => minimal({ clientSecretExpiresAt: 1_900_000_000 })],
      ['a numeric refreshToken', () => minimal({ refreshToken: 123456 })],
      ['an object refreshToken', () => minimal({ refreshToken: { value: 'x' } })],
      ['an array refreshToken', () => minimal({ refreshToken: ['x'] })],
      ['an empty refreshToken', () => minimal({ refreshToken: '' })],
      ['a refreshToken with a control character', () => minimal({ refreshToken: 'abc\u0000def' })],
      ['a boolean clientSecret', () => minimal({ clientId: 'c', clientSecret: true })],
      ['a numeric clientId', () => minimal({ clientId: 42 })],
      ['a non-URL tokenEndpoint', () => minimal({ tokenEndpoint: 'not a url' })],
      ['a relative tokenEndpoint', () => minimal({ tokenEndpoint: '/oauth/token' })],
      ['an ftp tokenEndpoint', () => minimal({ tokenEndpoint: 'ftp://auth.example.com/token' })],
      ['a javascript: tokenEndpoint', () => minimal({ tokenEndpoint: 'javascript:alert(1)' })],
      [
        'credentials in the tokenEndpoint',
        () => minimal({ tokenEndpoint: 'https://u:p@auth.example.com/t' }),
      ],
      ['a fragment in the tokenEndpoint', () => minimal({ tokenEndpoint: `${ENDPOINT}#x` })],
      ['whitespace in the tokenEndpoint', () => minimal({ tokenEndpoint: 'https://auth.exa\tmple.com/t' })],
      ['a numeric tokenEndpoint', () => minimal({ tokenEndpoint: 12 })],
      ['malformed scopes', () => minimal({ scopes: 'repo  "read"' })],
      ['a null tokenEndpoint', () => minimal({ tokenEndpoint: null })],
      ['a null refreshToken', () => minimal({ refreshToken: null })],
      ['a null clientId', () => minimal({ clientId: null })],
      ['a null clientSecret', () => minimal({ clientSecret: null })],
      ['a null clientSecretExpiresAt', () => minimal({ clientSecretExpiresAt: null })],
      ['a null authMethod', () => minimal({ authMethod: null })],
      ['a null scopes', () => minimal({ scopes: null })],
      ['a null resource', () => minimal({ resource: null })],
      ['a numeric resource', () => minimal({ resource: 42 })],
      ['a relative resource', () => minimal({ resource: '/mcp' })],
      ['a resource that is not a URL', () => minimal({ resource: 'mcp server' })],
      ['a resource with a fragment (RFC 8707)', () => minimal({ resource: 'https://mcp.example.com/#x' })],
      ['an empty fragment in the resource', () => minimal({ resource: 'https://mcp.example.com/#' })],
      ['an urn resource', () => minimal({ resource: 'urn:example:mcp' })],
      ['credentials in the resource', () => minimal({ resource: 'https://u:p@mcp.example.com/' })],
      ['an oversize resource', () => minimal({ resource: `https://mcp.example.com/${'p'.repeat(2030)}` })],
      [
        'a clientSecret with authMethod none',
        () => minimal({ clientId: 'c', clientSecret: secret('cs'), authMethod: 'none' }),
      ],
      [
        'client_secret_post without a secret',
        () => minimal({ clientId: 'c', authMethod: 'client_secret_post' }),
      ],
      [
        'client_secret_basic without a clientId',
        () => minimal({ clientSecret: secret('cs'), authMethod: 'client_secret_basic' }),
      ],
      ['a secret without a clientId', () => minimal({ clientSecret: secret('cs') })],
    ];

    it.each(cases)('refuses %s', async (_label, body) => {
      const before = await countAll();
      const res = await deposit('validator', body());
      expect({ status: res.status, body: res.body as unknown }).toEqual({
        status: 400,
        body: errorShape('validation_failed', 400),
      });
      expect(await countAll()).toBe(before);
    });

    it('refuses a body that is not an object, and malformed JSON', async () => {
      const bearer = await sessionBearer(issuer, 'validator');
      for (const raw of ['[]', '"text"', '{"mcpServerId":', 'null']) {
        const res = await request(t.http)
          .post(PATH)
          .set('authorization', bearer)
          .set('content-type', 'application/json')
          .send(raw);
        expect({ raw, status: res.status }).toEqual({ raw, status: 400 });
      }
    });
  });

  describe('refusals that store nothing', () => {
    it('answers 503 encryption_key_missing without a key, and writes nothing at all', async () => {
      const keyless = await suite.start(sessionEnv(issuer));
      try {
        const countRows = async () =>
          suite.db.query<{ c: string; u: string; a: string }>(
            `SELECT (SELECT count(*) FROM mcp_oauth_credentials) AS c, (SELECT count(*) FROM users) AS u,
                    (SELECT count(*) FROM audit_events) AS a`,
          );
        const before = await countRows();
        const res = await deposit('keyless-user', full(), keyless);
        expect(res.status).toBe(503);
        expect(res.body).toEqual(errorShape('encryption_key_missing', 503));
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        expect(await countRows()).toEqual(before);
        // Listing and deleting need no key.
        expect((await call('alice', 'get', PATH, undefined, keyless)).status).toBe(200);
      } finally {
        await keyless.close();
      }
    });

    it('refuses a disabled user with 403 identity_not_allowed', async () => {
      await list('disabled-user');
      await suite.db.query("UPDATE users SET disabled_at = now() WHERE external_id = 'disabled-user'");
      const audits = await suite.db.query('SELECT 1 FROM audit_events');
      const res = await deposit('disabled-user', full());
      expect(res.status).toBe(403);
      expect(res.body).toEqual(errorShape('identity_not_allowed', 403));
      expect(await rowsOf('disabled-user')).toEqual([]);
      expect(await suite.db.query('SELECT 1 FROM audit_events')).toHaveLength(audits.length);
    });
  });

  describe('concurrency', () => {
    it('leaves one row for concurrent deposits to one server, holding one of the deposited tokens', async () => {
      const bodies = Array.from({ length: 10 }, () => minimal({ mcpServerId: 'raced' }));
      const results = await concurrently(10, (i) => deposit('racer', bodies[i]));
      expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
      const rows = await rowsOf('racer');
      expect(rows).toHaveLength(1);
      const stored = t.app
        .get(EncryptionService)
        .decrypt(
          rows[0]!.refresh_token_enc,
          1,
          credentialField(await userId('racer'), 'raced', 'refresh_token_enc'),
        );
      expect(bodies.map((b) => b.refreshToken)).toContain(stored);
      const created = new Set(results.map((r) => (r.body as CredentialView).createdAt));
      expect(created.size).toBe(1);
    });
  });
});
