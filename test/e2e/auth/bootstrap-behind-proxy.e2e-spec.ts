import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { OrgTokensService } from 'src/org-tokens/org-tokens.service';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { UNAUTHORIZED } from 'test/helpers/http';
import { baseUrlOver, listenEverywhere, nonLoopbackAddress } from 'test/helpers/remote-peer';

jest.setTimeout(60_000);

const MINT = '/api/v1/org/tokens';
const WHOAMI = '/api/v1/admin/whoami';
const BOOTSTRAP = { tier: 'bootstrap', actor: 'bootstrap', scopes: ['admin'] };
const CONFIGURED_ORIGIN = 'https://admin.example.com';

/** This machine's own non-loopback address: connections to it have a socket peer that is not loopback. */
const REMOTE = nonLoopbackAddress();
/** Tests that need a non-loopback socket peer run only where the machine has a non-loopback address. */
const withRemotePeer = REMOTE === undefined ? it.skip : it;

/** Every way a client (or a proxy) can say "I am loopback" in a header. */
const LOOPBACK_CLAIMS = ['127.0.0.1', '::1', '::ffff:127.0.0.1'];
const FORWARDING_HEADERS: [string, string][] = [
  ...LOOPBACK_CLAIMS.map((ip): [string, string] => ['x-forwarded-for', ip]),
  ...LOOPBACK_CLAIMS.map((ip): [string, string] => ['x-real-ip', ip]),
  ['forwarded', 'for=127.0.0.1'],
  ['forwarded', 'for="[::1]"'],
  ['forwarded', 'for="[::ffff:127.0.0.1]";proto=http'],
  ['x-forwarded-host', 'localhost'],
  ['x-forwarded-proto', 'http'],
  ['via', '1.1 proxy'],
];

/** The TRUST_PROXY settings an operator may run with (unset: the socket address). */
const TRUST_PROXY_MODES: [string, Record<string, string>][] = [
  ['TRUST_PROXY unset', {}],
  ['TRUST_PROXY=true', { TRUST_PROXY: 'true' }],
  ['TRUST_PROXY=loopback', { TRUST_PROXY: 'loopback' }],
  ['TRUST_PROXY=1 (a hop count)', { TRUST_PROXY: '1' }],
  ['TRUST_PROXY as a list of addresses', { TRUST_PROXY: '127.0.0.0/8,::1/128,::ffff:127.0.0.1' }],
];

/**
 * Item 11 of issue 16: while bootstrap is open, it answers only a loopback socket peer (or a configured
 * origin's page) with no forwarding header at all, whatever TRUST_PROXY says. Real HTTP: "another machine" is
 * a connection to this machine's own non-loopback address, a proxy on the same host is a real one.
 */
describe.each(TRUST_PROXY_MODES)('bootstrap with %s: forwarded requests never pass', (_mode, trustEnv) => {
  const suite = e2eSuite({ issuers: false });
  let app: TestApp;
  let remoteBase: string | undefined;

  beforeAll(async () => {
    app = await suite.start({
      OAUTH_CALLBACK_ORIGIN: 'http://localhost:3000',
      ADMIN_BOOTSTRAP_ORIGINS: CONFIGURED_ORIGIN,
      ...trustEnv,
    });
    await listenEverywhere(app.http);
    if (REMOTE !== undefined) remoteBase = await baseUrlOver(app.http, REMOTE);
  });

  suite.beforeTeardown(() => app?.app.get(OrgTokensService).settle());

  const minted = async (): Promise<number> => (await suite.db.query(`SELECT 1 FROM org_tokens`)).length;

  /** GET whoami and POST a mint, both the one 401. */
  const expectRefused = async (target: Server | string, headers: Record<string, string>): Promise<void> => {
    await request(target).get(WHOAMI).set(headers).expect(401, UNAUTHORIZED);
    await request(target)
      .post(MINT)
      .set(headers)
      .set('content-type', 'application/json')
      .send({ name: 'stolen' })
      .expect(401, UNAUTHORIZED);
  };

  it('a loopback peer without any forwarding header is answered (bootstrap is open)', async () => {
    await request(app.http).get(WHOAMI).expect(200, BOOTSTRAP);
  });

  it.each(FORWARDING_HEADERS)(
    'a loopback peer with %s: %s is refused like any other 401',
    async (name, value) => {
      await expectRefused(app.http, { [name]: value });
      expect(await minted()).toBe(0);
    },
  );

  withRemotePeer.each(FORWARDING_HEADERS)(
    'another machine claiming loopback with %s: %s is refused',
    async (name, value) => {
      await expectRefused(remoteBase!, { [name]: value, host: 'localhost:3000' });
      expect(await minted()).toBe(0);
    },
  );

  withRemotePeer('another machine without a header is refused, unless from a configured origin', async () => {
    await expectRefused(remoteBase!, { host: 'localhost:3000' });
    // The configured origin's page, straight to the service (no proxy on the way): the contract's one exception.
    const page = { host: 'localhost:3000', origin: CONFIGURED_ORIGIN, 'sec-fetch-site': 'cross-site' };
    await request(remoteBase!).get(WHOAMI).set(page).expect(200, BOOTSTRAP);
    // The same page through a proxy (or claiming one) is refused.
    await expectRefused(remoteBase!, { ...page, 'x-forwarded-for': '203.0.113.7' });
    await expectRefused(app.http, { ...page, 'x-forwarded-for': '127.0.0.1' });
    expect(await minted()).toBe(0);
  });

  it('logs each refusal with its reason, never the header it saw', async () => {
    const text = app.logs.text();
    expect(text).toMatch(/bootstrap refused a request: it carries a forwarding header/);
    expect(text).not.toMatch(/for=\\?"\[::1\]/);
  });
});

describe('bootstrap behind a reverse proxy on the same host (TRUST_PROXY unset)', () => {
  const suite = e2eSuite({ issuers: false });
  let app: TestApp;
  let proxy: Server;

  beforeAll(async () => {
    app = await suite.start({ OAUTH_CALLBACK_ORIGIN: 'http://localhost:3000' });
    const upstream = await listenEverywhere(app.http);
    // What nginx or a sidecar does: pass the request on from loopback, saying who the client was.
    proxy = createServer((req, res) => {
      const forward = httpRequest(
        {
          host: '127.0.0.1',
          port: upstream,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '' },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  });

  suite.beforeTeardown(async () => {
    proxy?.closeAllConnections();
    await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
    await app?.app.get(OrgTokensService).settle();
  });

  it('every client of the proxy has a loopback peer at the service, and is refused all the same', async () => {
    const viaProxy = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    await request(viaProxy).get(WHOAMI).expect(401, UNAUTHORIZED);
    await request(viaProxy)
      .post(MINT)
      .set('content-type', 'application/json')
      .send({})
      .expect(401, UNAUTHORIZED);
    expect((await suite.db.query(`SELECT 1 FROM org_tokens`)).length).toBe(0);
    // Straight to the service from this machine: still open.
    await request(app.http).get(WHOAMI).expect(200, BOOTSTRAP);
  });
});
