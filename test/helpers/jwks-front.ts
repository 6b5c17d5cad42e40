import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestIssuer } from 'test/helpers/issuers';

/**
 * A loopback front for an issuer's JWKS that counts the fetches that reach it, and can hold them (answer
 * only on `release()`) or fail them: what the app fetches is the issuer's real key set, and the test sees
 * exactly how often it was asked for it.
 */
export class JwksFront {
  /** Requests received so far. */
  fetches = 0;
  private holding = false;
  private failing = false;
  private readonly held: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    private readonly issuer: TestIssuer,
  ) {}

  static async start(issuer: TestIssuer): Promise<JwksFront> {
    const server = createServer((_req, res) => {
      front.fetches++;
      const answer = (): void => {
        if (front.failing) {
          res.writeHead(503).end();
          return;
        }
        fetch(issuer.jwksUri)
          .then((r) => r.text())
          .then((body) => res.writeHead(200, { 'content-type': 'application/json' }).end(body))
          .catch(() => res.writeHead(502).end());
      };
      if (front.holding) front.held.push(answer);
      else answer();
    });
    const front = new JwksFront(server, issuer);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return front;
  }

  get uri(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/jwks`;
  }

  /** The issuer behind this front. */
  get upstream(): TestIssuer {
    return this.issuer;
  }

  /** Fetches that arrived while held and have not been answered yet. */
  get waiting(): number {
    return this.held.length;
  }

  /** From now on, fetches wait until `release()`. */
  hold(): void {
    this.holding = true;
  }

  /** Answers every held fetch, and stops holding. */
  release(): void {
    this.holding = false;
    for (const answer of this.held.splice(0)) answer();
  }

  /** From now on (until `recover()`), fetches answer 503. */
  fail(): void {
    this.failing = true;
  }

  recover(): void {
    this.failing = false;
  }

  stop(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
