import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * How the exchange endpoint behaves: `normal` answers `{"api_key": ...}`; `hang` never answers; `error`
 * answers 500; `garbage` answers 200 with a body that is not JSON; `oversized` answers 200 with a valid but
 * 100 KiB JSON body, chunked (no Content-Length), so only a reader that stops counting can refuse it.
 */
export type FakeProviderMode = 'normal' | 'hang' | 'error' | 'garbage' | 'oversized';

export interface IssuedLogin {
  /** The token the provider puts in its redirect. */
  token: string;
  /** The API key the exchange of that token answers. */
  apiKey: string;
  /** The redirect: `redirect_uri` with `state` and `token`. */
  redirect: URL;
}

/**
 * A billing provider speaking API.md's token-callback protocol, on a free loopback port. Its login page
 * (`authUrl`) signs the user in at once and redirects to `redirect_uri` with `state` and a fresh `token`;
 * `POST <apiBase>/v1/api-key` with `Authorization: Bearer <token>` answers that token's API key, once.
 */
export class FakeProvider {
  mode: FakeProviderMode = 'normal';
  /** Every exchange request, in order: the Authorization header it carried. */
  readonly exchanges: { authorization: string | undefined }[] = [];
  /** Every token issued, with its key (tests scan logs and tables for both). */
  readonly issued: IssuedLogin[] = [];
  private readonly keys = new Map<string, string>();
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeProvider> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const provider = new FakeProvider(server, `http://127.0.0.1:${port}`);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => provider.handle(req, res));
    server.on('connection', (socket: Socket) => {
      provider.sockets.add(socket);
      socket.on('close', () => provider.sockets.delete(socket));
    });
    return provider;
  }

  /** The login page, with a query of its own that keysmith must keep. */
  get authUrl(): string {
    return `${this.url}/login?client=keysmith&scope=api%20key`;
  }

  /** The API base: the exchange is `<apiBase>/v1/api-key`. */
  get apiBase(): string {
    return `${this.url}/api`;
  }

  /** The BILLING_PROVIDERS entry for this provider under `slug`. */
  entry(slug: string, name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { slug, name, authUrl: this.authUrl, apiBase: this.apiBase, ...extra };
  }

  /** What the login page does for `authUrl` (a start's answer): a token, its key, and the redirect. */
  login(authUrl: string): IssuedLogin {
    const url = new URL(authUrl);
    const state = url.searchParams.get('state');
    const redirectUri = url.searchParams.get('redirect_uri');
    if (!state || !redirectUri) throw new Error('authUrl lacks state or redirect_uri');
    const token = `tok_${randomBytes(24).toString('hex')}`;
    const apiKey = `pk_live_${randomBytes(24).toString('hex')}`;
    this.keys.set(token, apiKey);
    const redirect = new URL(redirectUri);
    redirect.searchParams.set('state', state);
    redirect.searchParams.set('token', token);
    const issued = { token, apiKey, redirect };
    this.issued.push(issued);
    return issued;
  }

  /** Every secret this provider handed out: tokens and keys. */
  secrets(): string[] {
    return this.issued.flatMap((i) => [i.token, i.apiKey]);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    if (req.method === 'GET' && url.pathname === '/login') {
      const issued = this.login(url.toString());
      res.writeHead(302, { location: issued.redirect.toString(), 'cache-control': 'no-store' }).end();
      return;
    }
    if (req.method === 'POST' && url.pathname === '/api/v1/api-key') {
      req.resume();
      this.exchange(req, res);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
  }

  private exchange(req: IncomingMessage, res: ServerResponse): void {
    this.exchanges.push({ authorization: req.headers.authorization });
    switch (this.mode) {
      case 'hang':
        return;
      case 'error':
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal"}');
        return;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' }).end('<html>api_key: nope</html>');
        return;
      case 'oversized': {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(`{"api_key":"pk_live_oversized","padding":"`);
        for (let i = 0; i < 100; i++) res.write('x'.repeat(1024));
        res.end('"}');
        return;
      }
      case 'normal': {
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        const apiKey = token === undefined ? undefined : this.keys.get(token);
        if (token === undefined || apiKey === undefined) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_token"}');
          return;
        }
        // A token is exchanged once.
        this.keys.delete(token);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ api_key: apiKey }));
        return;
      }
    }
  }
}
