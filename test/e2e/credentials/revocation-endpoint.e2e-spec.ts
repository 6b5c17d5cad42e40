import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { CREDENTIALS_PATH } from 'test/helpers/credentials';
import { errorShape } from 'test/helpers/http';
import { sessionBearer } from 'test/helpers/issuers';
import { TestRevocationServer } from 'test/helpers/revocation-server';

const ENCRYPTION_KEY = 'e2e-revocation-endpoint-secret-0123456789';

/** Issue 20: a deposit's `revocationEndpoint` (RFC 7009) under the token endpoint's URL rules and policy. */
describe('credentials: revocationEndpoint on a deposit', () => {
  const suite = e2eSuite();
  let dev: TestApp;
  let guarded: TestApp;
  let revocation: TestRevocationServer;
  const refreshToken = 'rt-revocation-endpoint-0123456789';

  beforeAll(async () => {
    revocation = await TestRevocationServer.start();
    revocation.behave('/failing', { kind: 'status', status: 500 });
    revocation.behave('/hanging', { kind: 'hang' });
    // A hung revocation endpoint is given up after this long; the delete answers anyway.
    dev = await suite.boot({ ENCRYPTION_KEY, CREDENTIALS_REFRESH_TIMEOUT_MS: '300' });
    // http allowed, loopback refused: the address rule is what refuses.
    guarded = await suite.boot({ ENCRYPTION_KEY, CREDENTIALS_ALLOW_LOOPBACK: 'false' });
  });

  afterAll(async () => {
    await revocation.stop();
    expect(dev.logs.leaked([refreshToken, ENCRYPTION_KEY])).toEqual([]);
  });

  const deposit = async (t: TestApp, extra: Record<string, unknown>): Promise<request.Response> =>
    request(t.http)
      .post(CREDENTIALS_PATH)
      .set('authorization', await sessionBearer(suite.session, 'depositor'))
      .send({
        mcpServerId: 'server-1',
        refreshToken,
        tokenEndpoint: 'https://auth.example.com/token',
        ...extra,
      });

  it('is stored with the credential', async () => {
    const res = await deposit(dev, { revocationEndpoint: 'https://auth.example.com/revoke' });
    expect(res.status).toBe(200);
    const [row] = await suite.db.query<{ revocation_endpoint: string | null }>(
      `SELECT revocation_endpoint FROM mcp_oauth_credentials WHERE mcp_server_id = 'server-1'`,
    );
    expect(row!.revocation_endpoint).toBe('https://auth.example.com/revoke');
    // A deposit without one replaces it with none.
    expect((await deposit(dev, {})).status).toBe(200);
    const [after] = await suite.db.query<{ revocation_endpoint: string | null }>(
      `SELECT revocation_endpoint FROM mcp_oauth_credentials WHERE mcp_server_id = 'server-1'`,
    );
    expect(after!.revocation_endpoint).toBeNull();
  });

  it.each([
    ['not a URL', 'revoke-here'],
    ['not http(s)', 'ftp://auth.example.com/revoke'],
    ['with credentials', 'https://user:pw@auth.example.com/revoke'],
    ['with a fragment', 'https://auth.example.com/revoke#x'],
    ['over 2048 characters', `https://auth.example.com/${'r'.repeat(2048)}`],
    ['null', null],
    ['a number', 7009],
  ])('%s: 400 naming revocationEndpoint, nothing stored', async (_label, value) => {
    const before = await suite.db.query('SELECT updated_at FROM mcp_oauth_credentials');
    const res = await deposit(dev, { revocationEndpoint: value });
    expect({ status: res.status, body: res.body as unknown }).toEqual({
      status: 400,
      body: errorShape('validation_failed', 400),
    });
    expect(JSON.stringify(res.body)).toContain('revocationEndpoint');
    expect(await suite.db.query('SELECT updated_at FROM mcp_oauth_credentials')).toEqual(before);
  });

  it('an address the outbound policy refuses: 400 naming revocationEndpoint', async () => {
    const res = await deposit(guarded, { revocationEndpoint: 'http://127.0.0.1:9/revoke' });
    expect(res.status).toBe(400);
    expect((res.body as { error: { details: { field: string }[] } }).error.details[0]!.field).toBe(
      'revocationEndpoint',
    );
  });

  describe('DELETE revokes the refresh token upstream first (bounded, best effort), and still answers 204', () => {
    it.each([
      ['confirmed', '/ok', true],
      ['a 500', '/failing', false],
      ['a hung endpoint', '/hanging', false],
      ['no endpoint', undefined, null],
    ])('%s: 204, the audit row says %s', async (_label, path, upstreamRevoked) => {
      const sub = `deleter-${String(path)}`;
      const bearer = await sessionBearer(suite.session, sub);
      const token = `rt-delete-${String(path).replace(/\W/g, '')}-0123456789`;
      const deposited = await request(dev.http)
        .post(CREDENTIALS_PATH)
        .set('authorization', bearer)
        .send({
          mcpServerId: 'to-delete',
          refreshToken: token,
          tokenEndpoint: revocation.url('/token'),
          clientId: 'the-client',
          ...(path === undefined ? {} : { revocationEndpoint: revocation.url(path) }),
        });
      expect(deposited.status).toBe(200);
      const res = await request(dev.http)
        .delete(`${CREDENTIALS_PATH}/to-delete`)
        .set('authorization', bearer);
      expect(res.status).toBe(204);
      if (path !== undefined)
        expect(revocation.seen.filter((s) => s.token === token)).toEqual([
          { path, token, tokenTypeHint: 'refresh_token', clientId: 'the-client', authorization: undefined },
        ]);
      else expect(revocation.seen.filter((s) => s.token === token)).toEqual([]);
      const rows = await suite.db.query<{ upstream: boolean | null }>(
        `SELECT (metadata->>'upstreamRevoked')::boolean AS upstream FROM audit_events e
           JOIN users u ON e.actor = 'session:' || u.external_id
          WHERE e.action = 'mcp_oauth_credential.delete' AND u.external_id = $1`,
        [sub],
      );
      expect(rows).toEqual([{ upstream: upstreamRevoked }]);
    });
  });
});
