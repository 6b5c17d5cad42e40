import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { HostResolver } from 'src/http/host-resolver';
import { outboundAddressRule } from 'src/http/outbound-address';
import { outboundRequest, type OutboundRequest, type OutboundTarget } from 'src/http/outbound-request';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const rule = (allowLoopback: boolean) =>
  outboundAddressRule({ what: 'the test URL', allowLoopback, allowedHosts: new Set<string>() });
/** Loopback allowed, as in development: the test server lives there. */
const LOOPBACK: OutboundTarget = { resolver: new HostResolver(), refuse: rule(true) };
const names = (answers: Record<string, { address: string; family: number }[]>) => ({
  resolve: async (host: string) => {
    const found = answers[host];
    if (!found) throw Object.assign(new Error(`no such name ${host}`), { code: 'ENOTFOUND' });
    return found;
  },
});

describe('outboundRequest (the one bounded outbound HTTP call)', () => {
  let server: Server;
  let port: number;
  let handler: Handler;
  const sockets = new Set<Socket>();
  const seen: { method?: string; url?: string; body: string; host?: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        seen.push({ method: req.method, url: req.url, body, host: req.headers.host });
        handler(req, res, body);
      });
    });
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterEach(() => {
    for (const s of sockets) s.destroy();
    seen.length = 0;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const call = (overrides: Partial<OutboundRequest> = {}, target: OutboundTarget = LOOPBACK) =>
    outboundRequest(
      {
        url: new URL(`http://127.0.0.1:${port}/path?q=1`),
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'hello',
        timeoutMs: 2000,
        maxBodyBytes: 1024,
        ...overrides,
      },
      target,
    );

  it('sends the request and answers status, headers and body', async () => {
    handler = (_req, res) => res.writeHead(201, { 'x-answer': 'yes' }).end('{"ok":true}');
    const result = await call();
    expect(result).toMatchObject({ kind: 'answered', status: 201, headers: { 'x-answer': 'yes' } });
    expect(result.kind === 'answered' && result.body.toString()).toBe('{"ok":true}');
    expect(seen).toEqual([{ method: 'POST', url: '/path?q=1', body: 'hello', host: `127.0.0.1:${port}` }]);
  });

  describe('the deadline covers everything', () => {
    it('no answer at all', async () => {
      handler = () => undefined;
      await expect(call({ timeoutMs: 100 })).resolves.toEqual({ kind: 'timeout' });
    });

    it('an answer whose body stalls after the head', async () => {
      handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"partial":');
      };
      await expect(call({ timeoutMs: 100 })).resolves.toEqual({ kind: 'timeout' });
    });
  });

  describe('the byte caps', () => {
    it('takes a body of exactly the cap', async () => {
      handler = (_req, res) => res.writeHead(200).end('x'.repeat(1024));
      const result = await call();
      expect(result.kind === 'answered' && result.body.length).toBe(1024);
    });

    it('refuses a declared Content-Length over the cap, whatever the status', async () => {
      handler = (_req, res) => res.writeHead(503).end('x'.repeat(1025));
      await expect(call()).resolves.toEqual({ kind: 'too_large', status: 503 });
    });

    it('stops reading a chunked body that grows past the cap', async () => {
      let written = 0;
      handler = (_req, res) => {
        res.writeHead(200);
        // Far more than the cap, and never ended: the reader must stop on its own, not at the deadline.
        const more = (): void => {
          written += 512;
          if (res.write('x'.repeat(512))) setImmediate(more);
          else res.once('drain', more);
        };
        more();
      };
      await expect(call({ timeoutMs: 60_000 })).resolves.toEqual({ kind: 'too_large', status: 200 });
      expect(written).toBeGreaterThan(1024);
    });

    it('fails on a head larger than maxHeaderBytes', async () => {
      handler = (_req, res) => res.writeHead(200, { 'x-big': 'h'.repeat(4096) }).end('{}');
      await expect(call({ maxHeaderBytes: 1024 })).resolves.toEqual({
        kind: 'failed',
        code: 'HPE_HEADER_OVERFLOW',
      });
      // The same head within the default bound is an answer.
      await expect(call()).resolves.toMatchObject({ kind: 'answered', status: 200 });
    });
  });

  it('does not follow a redirect: the 3xx is the answer, and nothing goes where it points', async () => {
    handler = (req, res) =>
      req.url === '/path?q=1'
        ? res.writeHead(307, { location: `http://127.0.0.1:${port}/elsewhere` }).end()
        : res.writeHead(200).end('followed');
    await expect(call()).resolves.toMatchObject({
      kind: 'answered',
      status: 307,
      headers: { location: `http://127.0.0.1:${port}/elsewhere` },
    });
    expect(seen.map((s) => s.url)).toEqual(['/path?q=1']);
  });

  it('ends at the head when the caller does not want the body', async () => {
    // A body that never ends: only not reading it answers before the deadline.
    handler = (_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.write('going on');
    };
    const result = await call({ timeoutMs: 60_000, readBody: (status) => status === 200 });
    expect(result).toMatchObject({ kind: 'answered', status: 500 });
    expect(result.kind === 'answered' && result.body.length).toBe(0);
  });

  describe('settles once, with the first outcome', () => {
    it('a body over the cap stays too_large when the peer then drops the connection', async () => {
      handler = (req, res) => {
        res.writeHead(200);
        res.write('x'.repeat(2048), () => req.socket.destroy());
      };
      await expect(call()).resolves.toEqual({ kind: 'too_large', status: 200 });
    });

    it('a complete answer stays answered when the peer then closes the connection', async () => {
      handler = (req, res) => res.writeHead(200).end('done', () => req.socket.destroy());
      await expect(call()).resolves.toMatchObject({ kind: 'answered', status: 200 });
    });

    it('an answer cut short is a failure, not an answer', async () => {
      handler = (req, res) => {
        res.writeHead(200, { 'content-length': '100' });
        res.write('only part', () => req.socket.destroy());
      };
      await expect(call()).resolves.toMatchObject({ kind: 'failed' });
    });
  });

  it('fails when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const gone = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(call({ url: new URL(`http://127.0.0.1:${gone}/`) })).resolves.toEqual({
      kind: 'failed',
      code: 'ECONNREFUSED',
    });
  });

  describe('address pinning', () => {
    it('refuses an IP literal the rule refuses, before connecting', async () => {
      handler = (_req, res) => res.writeHead(200).end();
      const strict = { resolver: new HostResolver(), refuse: rule(false) };
      const result = await call({}, strict);
      expect(result).toEqual({ kind: 'refused', reason: expect.stringMatching(/loopback/) as string });
      expect(seen).toEqual([]);
    });

    it('refuses a name that resolves only to refused addresses, before connecting', async () => {
      handler = (_req, res) => res.writeHead(200).end();
      const resolver = names({
        'inside.test': [
          { address: '10.1.2.3', family: 4 },
          { address: '0.0.0.0', family: 4 },
        ],
      });
      const result = await call(
        { url: new URL(`http://inside.test:${port}/`) },
        { resolver, refuse: rule(true) },
      );
      expect(result).toEqual({ kind: 'refused', reason: expect.stringMatching(/private/) as string });
      expect(seen).toEqual([]);
    });

    it('connects only to an allowed address of a name, the one it checked', async () => {
      handler = (_req, res) => res.writeHead(200).end('pinned');
      const resolver = names({
        'mixed.test': [
          { address: '10.1.2.3', family: 4 },
          { address: '0.0.0.0', family: 4 },
          { address: '127.0.0.1', family: 4 },
        ],
      });
      const result = await call(
        { url: new URL(`http://mixed.test:${port}/`) },
        { resolver, refuse: rule(true) },
      );
      expect(result.kind === 'answered' && result.body.toString()).toBe('pinned');
      expect(seen).toMatchObject([{ host: `mixed.test:${port}` }]);
    });

    it('fails (not refused) for a name that does not resolve', async () => {
      const resolver = names({});
      await expect(
        call({ url: new URL(`http://nowhere.test:${port}/`) }, { resolver, refuse: rule(true) }),
      ).resolves.toEqual({ kind: 'failed', code: 'ENOTFOUND' });
    });
  });
});
