import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One RFC 7009 revocation request, as the server received it (form fields and the Authorization header). */
export interface SeenRevocation {
  path: string;
  token: string | null;
  tokenTypeHint: string | null;
  clientId: string | null;
  authorization: string | undefined;
}

/** How the server answers a path: 200 (RFC 7009 §2.2), another status, or never (a hung provider). */
export type RevocationBehaviour = { kind: 'ok' } | { kind: 'status'; status: number } | { kind: 'hang' };

/**
 * A real RFC 7009 token revocation endpoint on a loopback port: records every request and answers each path
 * as told (`behave`); a hung request is held until the server stops.
 */
export class TestRevocationServer {
  readonly seen: SeenRevocation[] = [];
  private readonly behaviours = new Map<string, RevocationBehaviour>();
  private readonly hung = new Set<ServerResponse>();
  private readonly server = http.createServer((req, res) => this.handle(req, res));

  static async start(): Promise<TestRevocationServer> {
    const self = new TestRevocationServer();
    await new Promise<void>((resolve) => self.server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  /** The URL of `path` on this server. */
  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  behave(path: string, behaviour: RevocationBehaviour): void {
    this.behaviours.set(path, behaviour);
  }

  async stop(): Promise<void> {
    for (const res of this.hung) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const path = req.url ?? '/';
      this.seen.push({
        path,
        token: form.get('token'),
        tokenTypeHint: form.get('token_type_hint'),
        clientId: form.get('client_id'),
        authorization: req.headers.authorization,
      });
      const behaviour = this.behaviours.get(path) ?? { kind: 'ok' };
      if (behaviour.kind === 'hang') {
        this.hung.add(res);
        return;
      }
      res.writeHead(behaviour.kind === 'ok' ? 200 : behaviour.status, { 'content-type': 'application/json' });
      res.end(behaviour.kind === 'ok' ? '' : '{"error":"server_error"}');
    });
  }
}
