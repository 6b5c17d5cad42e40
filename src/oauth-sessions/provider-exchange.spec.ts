import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { HostResolver } from 'src/http/host-resolver';
import { outboundAddressRule } from 'src/http/outbound-address';
import { OAuthFailureReason } from 'src/oauth-sessions/oauth-sessions.errors';
import {
  EXCHANGE_MAX_RESPONSE_BYTES,
  exchangeProviderToken,
  parseApiKey,
  PROVIDER_KEY_MAX_LENGTH,
} from 'src/oauth-sessions/provider-exchange';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** The development rule: public and loopback addresses. */
const rule = (allowLoopback: boolean, allowedHosts: string[] = []) =>
  outboundAddressRule({ what: "the provider's apiBase", allowLoopback, allowedHosts: new Set(allowedHosts) });
const DEV = { resolver: new HostResolver(), refuse: rule(true) };

describe('the provider exchange', () => {
  let server: Server;
  let base: string;
  let handler: Handler;
  const sockets = new Set<Socket>();
  const seen: { method?: string; url?: string; authorization?: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization });
      req.resume();
      handler(req, res);
    });
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/provider-api`;
  });

  afterEach(() => {
    // A test that hangs the server leaves its socket open: cut it.
    for (const s of sockets) s.destroy();
    seen.length = 0;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const json =
    (status: number, body: unknown): Handler =>
    (_req, res) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

  describe('the outbound address policy (one policy for every outbound call)', () => {
    const port = (): string => new URL(base).port;
    const names = (answers: Record<string, { address: string; family: number }[]>) => ({
      resolve: async (host: string) => answers[host] ?? [],
    });

    it.each([
      ['0.0.0.0', `http://0.0.0.0:PORT/provider-api`],
      ['a loopback literal where loopback is not allowed', `http://127.0.0.1:PORT/provider-api`],
      ['a private literal', `http://10.1.2.3:PORT/provider-api`],
      ['a mapped loopback literal', `http://[::ffff:127.0.0.1]:PORT/provider-api`],
    ])('refuses %s before sending anything', async (_label, url) => {
      handler = json(200, { api_key: 'pk_never' });
      const strict = { resolver: new HostResolver(), refuse: rule(false) };
      await expect(
        exchangeProviderToken(url.replace('PORT', port()), 'tok-secret', 2000, strict),
      ).resolves.toEqual({ ok: false, reason: OAuthFailureReason.ProviderAddressRefused });
      expect(seen).toEqual([]);
    });

    it('refuses a name that resolves to 0.0.0.0, and connects to the address it checked', async () => {
      handler = json(200, { api_key: 'pk_live_pinned' });
      const resolver = names({
        'zero.test': [{ address: '0.0.0.0', family: 4 }],
        'mixed.test': [
          { address: '0.0.0.0', family: 4 },
          { address: '127.0.0.1', family: 4 },
        ],
      });
      const outbound = { resolver, refuse: rule(true) };
      await expect(
        exchangeProviderToken(`http://zero.test:${port()}/provider-api`, 'tok-secret', 2000, outbound),
      ).resolves.toEqual({ ok: false, reason: OAuthFailureReason.ProviderAddressRefused });
      expect(seen).toEqual([]);
      // Only the allowed address is handed to the socket: the exchange reaches the server on 127.0.0.1.
      await expect(
        exchangeProviderToken(`http://mixed.test:${port()}/provider-api`, 'tok-1', 2000, outbound),
      ).resolves.toEqual({ ok: true, apiKey: 'pk_live_pinned' });
    });

    it('allows any address for a host the operator named', async () => {
      handler = json(200, { api_key: 'pk_live_named' });
      const resolver = names({ 'billing.internal': [{ address: '127.0.0.1', family: 4 }] });
      const outbound = { resolver, refuse: rule(false, ['billing.internal']) };
      await expect(
        exchangeProviderToken(`http://billing.internal:${port()}/provider-api`, 'tok-1', 2000, outbound),
      ).resolves.toEqual({ ok: true, apiKey: 'pk_live_named' });
    });
  });

  it('POSTs to <apiBase>/v1/api-key with the token as a bearer and returns the key', async () => {
    handler = json(200, { api_key: 'pk_live_123', other: 'ignored' });
    await expect(exchangeProviderToken(base, 'tok-1', 2000, DEV)).resolves.toEqual({
      ok: true,
      apiKey: 'pk_live_123',
    });
    expect(seen).toEqual([
      { method: 'POST', url: '/provider-api/v1/api-key', authorization: 'Bearer tok-1' },
    ]);
  });

  it.each([401, 403, 404, 500, 503])('answers %i as rejected, with the status', async (status) => {
    handler = json(status, { api_key: 'pk_should_not_be_used' });
    await expect(exchangeProviderToken(base, 't', 2000, DEV)).resolves.toEqual({
      ok: false,
      reason: OAuthFailureReason.ProviderRejected,
      httpStatus: status,
    });
  });

  it('does not follow a redirect (the token would travel with it)', async () => {
    handler = (req, res) =>
      req.url?.endsWith('/v1/api-key')
        ? res.writeHead(307, { location: `${base}/elsewhere` }).end()
        : json(200, { api_key: 'pk_elsewhere' })(req, res);
    await expect(exchangeProviderToken(base, 't', 2000, DEV)).resolves.toMatchObject({
      ok: false,
      reason: OAuthFailureReason.ProviderRejected,
      httpStatus: 307,
    });
    expect(seen).toHaveLength(1);
  });

  it('times out when the provider never answers', async () => {
    handler = () => undefined;
    await expect(exchangeProviderToken(base, 't', 100, DEV)).resolves.toEqual({
      ok: false,
      reason: OAuthFailureReason.ProviderTimeout,
    });
  });

  it('times out when the provider sends headers and then stalls the body', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"api_key":');
    };
    await expect(exchangeProviderToken(base, 't', 100, DEV)).resolves.toEqual({
      ok: false,
      reason: OAuthFailureReason.ProviderTimeout,
    });
  });

  it('reports an unreachable provider', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(exchangeProviderToken(`http://127.0.0.1:${port}`, 't', 2000, DEV)).resolves.toEqual({
      ok: false,
      reason: OAuthFailureReason.ProviderUnreachable,
    });
  });

  describe('bounds the answer to 64 KiB', () => {
    const padded = (bytes: number): string => {
      const head = '{"api_key":"pk_big","pad":"';
      return `${head}${'x'.repeat(bytes - head.length - 2)}"}`;
    };

    it('takes an answer of exactly the limit', async () => {
      handler = (_req, res) => res.writeHead(200).end(padded(EXCHANGE_MAX_RESPONSE_BYTES));
      await expect(exchangeProviderToken(base, 't', 2000, DEV)).resolves.toEqual({
        ok: true,
        apiKey: 'pk_big',
      });
    });

    it('refuses a declared Content-Length over it without reading the body', async () => {
      handler = (_req, res) => res.writeHead(200).end(padded(EXCHANGE_MAX_RESPONSE_BYTES + 1));
      await expect(exchangeProviderToken(base, 't', 2000, DEV)).resolves.toMatchObject({
        ok: false,
        reason: OAuthFailureReason.ProviderInvalidResponse,
      });
    });

    it('refuses a chunked answer that grows past it', async () => {
      handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"api_key":"pk_big","pad":"');
        // Far more than the limit; the reader stops at the limit.
        for (let i = 0; i < 1024; i++) res.write('x'.repeat(1024));
        res.end('"}');
      };
      await expect(exchangeProviderToken(base, 't', 5000, DEV)).resolves.toMatchObject({
        ok: false,
        reason: OAuthFailureReason.ProviderInvalidResponse,
      });
    });
  });

  it('refuses a 2xx answer that is not {"api_key": "<key>"}', async () => {
    handler = (_req, res) => res.writeHead(200).end('<html>hello</html>');
    await expect(exchangeProviderToken(base, 't', 2000, DEV)).resolves.toMatchObject({
      ok: false,
      reason: OAuthFailureReason.ProviderInvalidResponse,
    });
  });
});

describe('parseApiKey', () => {
  const parse = (text: string | Buffer) =>
    parseApiKey(Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8'));

  it('reads api_key of a JSON object', () => {
    expect(parse('{"api_key":"pk_live_abc.DEF-123_~+/="}')).toBe('pk_live_abc.DEF-123_~+/=');
    expect(parse(`{"api_key":"${'k'.repeat(PROVIDER_KEY_MAX_LENGTH)}"}`)).toHaveLength(
      PROVIDER_KEY_MAX_LENGTH,
    );
  });

  it.each([
    ['empty', ''],
    ['not JSON', 'api_key=pk'],
    ['an array', '[{"api_key":"pk"}]'],
    ['null', 'null'],
    ['a string', '"pk"'],
    ['no api_key', '{"key":"pk"}'],
    ['a number', '{"api_key":12345}'],
    ['null api_key', '{"api_key":null}'],
    ['an empty key', '{"api_key":""}'],
    ['whitespace in the key', '{"api_key":"pk live"}'],
    ['a padded key', '{"api_key":" pk"}'],
    ['a control character', '{"api_key":"pk\\u0000x"}'],
    ['a newline', '{"api_key":"pk\\nx"}'],
    ['non-ASCII', '{"api_key":"pké"}'],
    ['an over-long key', `{"api_key":"${'k'.repeat(PROVIDER_KEY_MAX_LENGTH + 1)}"}`],
  ])('refuses %s', (_label, text) => {
    expect(parse(text)).toBeUndefined();
  });

  it('refuses a body that is not UTF-8', () => {
    expect(parse(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]))).toBeUndefined();
  });
});
