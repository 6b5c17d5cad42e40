import request from 'supertest';
import { HostResolver, type ResolvedAddress } from 'src/http/host-resolver';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import {
  CREDENTIALS_PATH,
  depositCredential,
  requestAccessToken,
  type AccessTokenAnswer,
} from 'test/helpers/credentials';
import { TestTokenServer } from 'test/helpers/token-server';
import { m2mToken, sessionBearer } from 'test/helpers/issuers';
import { errorShape } from 'test/helpers/http';

const ENCRYPTION_KEY = 'e2e-outbound-master-secret-0123456789abc';

/**
 * Names this suite controls: the apps' HostResolver answers them (the connection then goes where the answer
 * says, since the client pins the address it checked); anything else resolves for real.
 */
const NAMES: Record<string, ResolvedAddress[]> = {
  'private.test': [{ address: '10.20.30.40', family: 4 }],
  'metadata.test': [{ address: '169.254.169.254', family: 4 }],
  'loopback.test': [{ address: '127.0.0.1', family: 4 }],
  'mapped.test': [{ address: '::ffff:127.0.0.1', family: 6 }],
  'allowed.test': [{ address: '127.0.0.1', family: 4 }],
  'mixed.test': [
    { address: '10.0.0.1', family: 4 },
    { address: '127.0.0.1', family: 4 },
  ],
};
/** While true, names of NAMES resolve to a public address: a name that changes its answer after deposit. */
let rebinding = false;
const PUBLIC: ResolvedAddress[] = [{ address: '93.184.216.34', family: 4 }];

/**
 * The outbound policy on token endpoints. Three instances on one database: `strict` as production runs
 * (https only, no loopback), `guarded` with http allowed but loopback refused (so refusals and the allowlist
 * can be shown against the real token server on 127.0.0.1), and `dev`, the development defaults.
 */
describe('credentials: outbound policy of token refreshes (SSRF)', () => {
  const suite = e2eSuite();
  let strict: TestApp;
  let guarded: TestApp;
  let dev: TestApp;
  let server: TestTokenServer;
  let runtime: string;

  const resolveFor = (app: TestApp): jest.SpyInstance => {
    const resolver = app.app.get(HostResolver);
    const real = resolver.resolve.bind(resolver);
    return jest
      .spyOn(resolver, 'resolve')
      .mockImplementation(async (host: string) =>
        NAMES[host] ? (rebinding ? PUBLIC : NAMES[host]) : real(host),
      );
  };

  beforeAll(async () => {
    server = await TestTokenServer.start();
    strict = await suite.boot({
      ENCRYPTION_KEY,
      CREDENTIALS_REQUIRE_HTTPS: 'true',
      CREDENTIALS_ALLOW_LOOPBACK: 'false',
      CREDENTIALS_ALLOWED_TOKEN_HOSTS: 'localhost',
    });
    guarded = await suite.boot({
      ENCRYPTION_KEY,
      CREDENTIALS_ALLOW_LOOPBACK: 'false',
      CREDENTIALS_ALLOWED_TOKEN_HOSTS: 'allowed.test',
    });
    dev = await suite.boot({ ENCRYPTION_KEY, CREDENTIALS_REFRESH_TIMEOUT_MS: '2000' });
    for (const app of [strict, guarded, dev]) resolveFor(app);
    runtime = await m2mToken(suite.m2m, 'mcp-runtime', 'credentials:use');
  });

  afterAll(async () => {
    await server?.stop();
  });

  const deposit = async (app: TestApp, sub: string, tokenEndpoint: string) =>
    request(app.http)
      .post(CREDENTIALS_PATH)
      .set('authorization', await sessionBearer(suite.session, sub))
      .send({ mcpServerId: 'srv', refreshToken: server.grant(), tokenEndpoint });
  const userIdOf = async (sub: string): Promise<string> =>
    (await suite.db.query<{ id: string }>('SELECT id FROM users WHERE external_id = $1', [sub]))[0]!.id;

  /**
   * Deposits `tokenEndpoint` through `via` (200 expected) while the suite's names resolve to a public address
   * (so the deposit's own check lets them through, as a name rebound after the deposit would), then asks
   * `ask` for an access token.
   */
  async function refreshThrough(via: TestApp, ask: TestApp, sub: string, tokenEndpoint: string) {
    rebinding = true;
    try {
      await depositCredential(via.http, await sessionBearer(suite.session, sub), {
        mcpServerId: 'srv',
        refreshToken: server.grant(),
        tokenEndpoint,
      });
    } finally {
      rebinding = false;
    }
    const before = server.tokenRequests;
    const res = await requestAccessToken(ask.http, runtime, {
      userId: await userIdOf(sub),
      mcpServerId: 'srv',
    });
    return { res, calls: server.tokenRequests - before };
  }

  const refusalLogged = (app: TestApp, reason: RegExp): boolean =>
    app.logs.lines.some((l) => l.includes('refused by the outbound policy') && reason.test(l));

  describe('at deposit, where the URL tells (400, nothing stored)', () => {
    it.each([
      ['http in production', 'http://auth.example.com/token', /https/],
      ['a loopback literal', 'https://127.0.0.1/token', /loopback/],
      ['an IPv6 loopback literal', 'https://[::1]/token', /loopback/],
      ['a private literal', 'https://10.1.2.3/token', /private/],
      ['cloud metadata', 'https://169.254.169.254/latest/meta-data', /link-local/],
      ['an IPv4-mapped metadata address', 'https://[::ffff:169.254.169.254]/token', /link-local/],
      ['a NAT64 loopback address', 'https://[64:ff9b::7f00:1]/token', /loopback/],
      ['a unique-local literal', 'https://[fd00::1]/token', /unique-local/],
      ['a CGNAT literal', 'https://100.64.0.1/token', /cgnat/],
      ['the unspecified address', 'https://0.0.0.0/token', /unspecified/],
      ['a multicast literal', 'https://224.0.0.1/token', /multicast/],
      ['a loopback literal in hex', 'https://0x7f000001/token', /loopback/],
    ])('refuses %s', async (_label, endpoint, reason) => {
      const res = await deposit(strict, 'u-strict', endpoint);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(errorShape('validation_failed', 400));
      expect((res.body as { error: { message: string } }).error.message).toMatch(reason);
      expect((res.body as { error: { details: { field: string }[] } }).error.details[0]!.field).toBe(
        'tokenEndpoint',
      );
    });

    it('judges localhost as it judges [::1]: refused where loopback is, unless allowlisted', async () => {
      const refused: [TestApp, string][] = [
        [guarded, server.endpointAt('localhost')],
        [guarded, server.endpointAt('[::1]')],
        [guarded, server.endpointAt('127.0.0.1')],
        [guarded, server.endpointAt('app.localhost')],
        [guarded, server.endpointAt('LocalHost.')],
        [strict, 'https://[::1]/token'],
        [strict, 'https://api.localhost/token'],
      ];
      for (const [app, endpoint] of refused) {
        const res = await deposit(app, 'u-localhost-deposit', endpoint);
        expect({
          endpoint,
          status: res.status,
          message: (res.body as { error: { message: string } }).error.message,
        }).toEqual({
          endpoint,
          status: 400,
          message: expect.stringMatching(/loopback/) as unknown,
        });
      }
      // CREDENTIALS_ALLOWED_TOKEN_HOSTS names localhost on `strict`; development allows loopback.
      expect((await deposit(strict, 'u-localhost-deposit', 'https://localhost/token')).status).toBe(200);
      expect((await deposit(dev, 'u-localhost-dev-deposit', server.endpointAt('localhost'))).status).toBe(
        200,
      );
    });

    it('refuses a name that resolves only to refused addresses, and takes one with an allowed address', async () => {
      for (const [host, reason] of [
        ['private.test', /private/],
        ['metadata.test', /link-local/],
        ['loopback.test', /loopback/],
        ['mapped.test', /loopback/],
      ] as const) {
        const res = await deposit(guarded, 'u-resolved-deposit', server.endpointAt(host));
        expect({ host, status: res.status }).toEqual({ host, status: 400 });
        expect((res.body as { error: { message: string } }).error.message).toMatch(reason);
      }
      expect((await deposit(dev, 'u-resolved-deposit', server.endpointAt('mixed.test'))).status).toBe(200);
      expect((await deposit(guarded, 'u-resolved-deposit', server.endpointAt('allowed.test'))).status).toBe(
        200,
      );
      // A name that does not resolve (yet) is judged when it is refreshed.
      expect((await deposit(dev, 'u-resolved-deposit', 'http://nowhere.invalid/token')).status).toBe(200);
    });

    it('stores nothing for a refused endpoint, and takes a public https one', async () => {
      expect(
        await suite.db.query(
          "SELECT 1 FROM mcp_oauth_credentials c JOIN users u ON u.id = c.user_id WHERE u.external_id = 'u-strict'",
        ),
      ).toEqual([]);
      expect((await deposit(strict, 'u-strict', 'https://auth.example.com/oauth/token')).status).toBe(200);
    });
  });

  describe('at refresh, on the address actually connected to (502, nothing sent)', () => {
    it('refuses a name that resolves to a private address', async () => {
      const { res, calls } = await refreshThrough(
        guarded,
        guarded,
        'u-private',
        server.endpointAt('private.test'),
      );
      expect(res.status).toBe(502);
      expect(res.body).toEqual(errorShape('upstream_failed', 502));
      expect((res.body as { error: { reason: string } }).error.reason).toBe('host_refused');
      expect(calls).toBe(0);
      expect(refusalLogged(guarded, /private address/)).toBe(true);
    });

    it('refuses a name that resolves to the cloud metadata address', async () => {
      const { res } = await refreshThrough(
        guarded,
        guarded,
        'u-metadata',
        server.endpointAt('metadata.test'),
      );
      expect(res.status).toBe(502);
      expect(refusalLogged(guarded, /link-local address/)).toBe(true);
    });

    it('refuses names resolving to loopback, in IPv4 and IPv4-mapped IPv6 form, where loopback is not allowed', async () => {
      for (const [sub, host] of [
        ['u-loop', 'loopback.test'],
        ['u-mapped', 'mapped.test'],
      ]) {
        const { res, calls } = await refreshThrough(guarded, guarded, sub!, server.endpointAt(host!));
        expect({ host, status: res.status, calls }).toEqual({ host, status: 502, calls: 0 });
      }
      expect(refusalLogged(guarded, /loopback address/)).toBe(true);
    });

    it('refuses a literal address at refresh when the instance’s policy refuses it', async () => {
      // Deposited where loopback is allowed, refreshed where it is not.
      const { res, calls } = await refreshThrough(dev, guarded, 'u-literal', server.tokenEndpoint);
      expect(res.status).toBe(502);
      expect(calls).toBe(0);
    });

    it('connects to the allowlisted host, pinned to the address its name resolved to', async () => {
      // `allowed.test` exists only in this suite's resolver: reaching the server proves the pinned address.
      const { res, calls } = await refreshThrough(
        guarded,
        guarded,
        'u-allowed',
        server.endpointAt('allowed.test'),
      );
      expect(res.status).toBe(200);
      expect((res.body as AccessTokenAnswer).tokenType).toBe('Bearer');
      expect(calls).toBe(1);
    });

    it('refuses localhost at refresh too, where the instance’s policy refuses loopback', async () => {
      // Deposited where loopback is allowed, refreshed where it is not.
      const refused = await refreshThrough(dev, guarded, 'u-localhost', server.endpointAt('localhost'));
      expect({ status: refused.res.status, calls: refused.calls }).toEqual({ status: 502, calls: 0 });
      expect((refused.res.body as { error: { reason: string } }).error.reason).toBe('host_refused');
      const allowed = await refreshThrough(dev, dev, 'u-localhost-dev', server.endpointAt('localhost'));
      expect({ status: allowed.res.status, calls: allowed.calls }).toEqual({ status: 200, calls: 1 });
    });

    it('answers 502 for a name that does not resolve', async () => {
      const { res, calls } = await refreshThrough(dev, dev, 'u-nowhere', 'http://nowhere.invalid/token');
      expect(res.status).toBe(502);
      expect(res.body).toEqual(errorShape('upstream_failed', 502));
      expect(calls).toBe(0);
    });

    it('keeps only the allowed addresses of a name that resolves to several', async () => {
      const { res, calls } = await refreshThrough(dev, dev, 'u-mixed', server.endpointAt('mixed.test'));
      expect(res.status).toBe(200);
      expect(calls).toBe(1);
    });
  });

  describe('redirects are not followed', () => {
    let target: TestTokenServer;
    beforeAll(async () => {
      target = await TestTokenServer.start();
    });
    afterAll(async () => {
      await target?.stop();
    });

    it.each([
      ['another token server', () => target.tokenEndpoint],
      ['a private address', () => 'http://10.20.30.40/token'],
      ['the metadata service', () => 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'],
    ])('a 302 to %s: 502, and nothing is sent there', async (_label, location) => {
      server.failNext({ kind: 'redirect', location: location() });
      const before = target.tokenRequests;
      const sub = `u-redirect-${location()}`;
      const { res, calls } = await refreshThrough(dev, dev, sub, server.tokenEndpoint);
      expect(res.status).toBe(502);
      expect(res.body).toEqual(errorShape('upstream_failed', 502));
      expect(calls).toBe(1);
      expect(target.tokenRequests).toBe(before);
      // Nothing was lost: the next refresh goes through.
      const again = await requestAccessToken(dev.http, runtime, {
        userId: await userIdOf(sub),
        mcpServerId: 'srv',
      });
      expect(again.status).toBe(200);
    });
  });
});
