import { randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

/** How a client authenticated at the token endpoint, as the server saw it. */
export type SeenAuth = 'client_secret_basic' | 'client_secret_post' | 'none';

export interface SeenTokenRequest {
  grantType: string;
  refreshToken: string | undefined;
  auth: SeenAuth;
  clientId: string | undefined;
  clientSecret: string | undefined;
  /** The `resource` form parameter (RFC 8707), when one was sent. */
  resource: string | undefined;
}

/** What the next token request gets instead of a normal answer (then the server is normal again). */
export type Fault =
  | { kind: 'status'; status: number; body?: unknown }
  | { kind: 'hang' }
  | { kind: 'redirect'; location: string }
  | { kind: 'oversize' };

export interface TokenServerOptions {
  /** The client the server knows; without one, any client (or none) is accepted. */
  client?: { id: string; secret?: string };
  /** Rotate refresh tokens (the default): each refresh returns a new one and retires the old. */
  rotate?: boolean;
  /** `expires_in` of issued access tokens (default 3600; null: left out of the answer). */
  expiresIn?: number | null;
}

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64. */
const formDecode = (value: string): string => decodeURIComponent(value.replace(/\+/g, ' '));

/**
 * A real OAuth 2.0 authorization server on a loopback port (oauth2-mock-server's token endpoint, which
 * speaks the refresh_token grant and signs real JWT access tokens), with what the mock leaves out: it only
 * accepts refresh tokens it issued and not yet retired, rotates them, checks client authentication, and
 * counts every request to its token endpoint. A front in the same process can hold a request back, fail it,
 * hang it or redirect it, to play a slow or broken server.
 */
export class TestTokenServer {
  /** Every token request the OAuth server answered (not the faulted ones), in order. */
  readonly requests: SeenTokenRequest[] = [];
  /** Token requests received, faulted, held or answered: what "one refresh" is counted with. */
  tokenRequests = 0;
  /** Every access and refresh token issued (tests scan tables and logs for them). */
  readonly issued: string[] = [];
  /** Token requests are answered only once this resolves (see `hold`). */
  private gate: Promise<void> = Promise.resolve();
  private readonly faults: Fault[] = [];
  /** While set (see `down`), every token request meets this fault, after the gate of `hold`. */
  private outage: Fault | null = null;
  private readonly valid = new Set<string>();

  private readonly server: http.Server;

  private constructor(
    private readonly service: OAuth2Service,
    private readonly options: TokenServerOptions,
  ) {
    this.server = http.createServer((req, res) => void this.front(req, res));
    service.on(
      'beforeResponse',
      (response: { statusCode: number; body: Record<string, unknown> }, req: IncomingMessage) =>
        this.decide(response, req),
    );
  }

  static async start(options: TokenServerOptions = {}): Promise<TestTokenServer> {
    const issuer = new OAuth2Issuer();
    await issuer.keys.generate('RS256');
    const self = new TestTokenServer(new OAuth2Service(issuer), options);
    await new Promise<void>((resolve) => self.server.listen(0, '127.0.0.1', resolve));
    issuer.url = `http://127.0.0.1:${self.port}`;
    return self;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The token endpoint on 127.0.0.1. */
  get tokenEndpoint(): string {
    return `http://127.0.0.1:${this.port}/token`;
  }

  /** The token endpoint under another host name (resolved by the test's own resolver). */
  endpointAt(host: string): string {
    return `http://${host}:${this.port}/token`;
  }

  /** A refresh token as the authorization-code grant would have issued it: the server accepts it once. */
  grant(): string {
    const token = `rt-${randomBytes(16).toString('base64url')}`;
    this.valid.add(token);
    this.issued.push(token);
    return token;
  }

  /** Retires a refresh token, as a user revoking access at the server does. */
  revoke(token: string): void {
    this.valid.delete(token);
  }

  /** Whether the server still accepts `token`. */
  accepts(token: string): boolean {
    return this.valid.has(token);
  }

  /** The next token request meets `fault`. */
  failNext(fault: Fault): void {
    this.faults.push(fault);
  }

  /**
   * The server is down until `up()`: every token request meets `fault`, held like any other by `hold()` (so
   * a test can have several callers wait on one failing request).
   */
  down(fault: Fault): void {
    this.outage = fault;
  }

  up(): void {
    this.outage = null;
  }

  /** Holds every token request until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    this.gate = new Promise<void>((resolve) => (release = resolve));
    return () => {
      this.gate = Promise.resolve();
      release();
    };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async front(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || !req.url?.startsWith('/token')) {
      this.service.requestHandler(req, res);
      return;
    }
    this.tokenRequests++;
    let fault = this.faults.shift();
    if (!fault && this.outage) {
      await this.gate;
      fault = this.outage ?? undefined;
    }
    if (fault) {
      switch (fault.kind) {
        case 'hang':
          return; // never answered; stop() closes the connection
        case 'redirect':
          res.writeHead(302, { location: fault.location }).end();
          return;
        case 'status':
          res
            .writeHead(fault.status, { 'content-type': 'application/json' })
            .end(JSON.stringify(fault.body ?? {}));
          return;
        case 'oversize':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ access_token: 'a'.repeat(128 * 1024), token_type: 'Bearer' }));
          return;
      }
    }
    await this.gate;
    this.service.requestHandler(req, res);
  }

  /** Runs on the mock's answer to a token request: the rules the mock does not enforce. */
  private decide(
    response: { statusCode: number; body: Record<string, unknown> },
    req: IncomingMessage,
  ): void {
    const body = (req as IncomingMessage & { body: Record<string, string | undefined> }).body;
    const seen = this.seen(req, body);
    this.requests.push(seen);
    const fail = (statusCode: number, error: string): void => {
      response.statusCode = statusCode;
      response.body = { error };
    };
    const { client } = this.options;
    if (client) {
      const method: SeenAuth = client.secret === undefined ? 'none' : seen.auth;
      if (seen.clientId !== client.id || (method !== 'none' && seen.clientSecret !== client.secret))
        return fail(401, 'invalid_client');
      if (client.secret !== undefined && seen.auth === 'none') return fail(401, 'invalid_client');
    }
    if (seen.grantType !== 'refresh_token') return fail(400, 'unsupported_grant_type');
    if (seen.refreshToken === undefined || !this.valid.has(seen.refreshToken))
      return fail(400, 'invalid_grant');

    if (this.options.expiresIn === null) delete response.body.expires_in;
    else response.body.expires_in = this.options.expiresIn ?? 3600;
    delete response.body.id_token;
    this.issued.push(String(response.body.access_token));
    if (this.options.rotate === false) {
      delete response.body.refresh_token;
    } else {
      this.valid.delete(seen.refreshToken);
      const next = `rt-${randomBytes(16).toString('base64url')}`;
      response.body.refresh_token = next;
      this.valid.add(next);
      this.issued.push(next);
    }
  }

  private seen(req: IncomingMessage, body: Record<string, string | undefined>): SeenTokenRequest {
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    let auth: SeenAuth = 'none';
    let clientId = body.client_id;
    let clientSecret = body.client_secret;
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const at = decoded.indexOf(':');
      auth = 'client_secret_basic';
      clientId = formDecode(decoded.slice(0, at));
      clientSecret = formDecode(decoded.slice(at + 1));
    } else if (clientSecret !== undefined) {
      auth = 'client_secret_post';
    }
    return {
      grantType: body.grant_type ?? '',
      refreshToken: body.refresh_token,
      auth,
      clientId,
      clientSecret,
      resource: body.resource,
    };
  }
}

/**
 * A token endpoint that never answers: it reads each request and holds it open until `stop()`. What a user's
 * endpoint that hangs looks like from keysmith; `received` and `open` tell how many refreshes reached it and
 * how many are still waiting for an answer.
 */
export class HangingTokenServer {
  received = 0;
  private readonly held = new Set<ServerResponse>();
  private readonly server = http.createServer((req, res) => {
    this.received++;
    this.held.add(res);
    res.on('close', () => this.held.delete(res));
    req.resume();
  });

  static async start(): Promise<HangingTokenServer> {
    const self = new HangingTokenServer();
    await new Promise<void>((resolve) => self.server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  /** Requests received and not answered yet. */
  get open(): number {
    return this.held.size;
  }

  get tokenEndpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/token`;
  }

  /** Drops every held request (the refreshes waiting on them fail at once) and closes the server. */
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
