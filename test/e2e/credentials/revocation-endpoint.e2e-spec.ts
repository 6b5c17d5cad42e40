import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { CREDENTIALS_PATH } from 'test/helpers/credentials';
import { errorShape } from 'test/helpers/http';
import { sessionBearer } from 'test/helpers/issuers';

const ENCRYPTION_KEY = 'e2e-revocation-endpoint-secret-0123456789';

/** Issue 20: a deposit's `revocationEndpoint` (RFC 7009) under the token endpoint's URL rules and policy. */
describe('credentials: revocationEndpoint on a deposit', () => {
  const suite = e2eSuite();
  let dev: TestApp;
  let guarded: TestApp;
  const refreshToken = 'rt-revocation-endpoint-0123456789';

  beforeAll(async () => {
    dev = await suite.boot({ ENCRYPTION_KEY });
    // http allowed, loopback refused: the address rule is what refuses.
    guarded = await suite.boot({ ENCRYPTION_KEY, CREDENTIALS_ALLOW_LOOPBACK: 'false' });
  });

  afterAll(() => {
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
});
