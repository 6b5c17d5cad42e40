import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the receiver does with a request to a path: answer a status, redirect, or never answer. */
export type Behaviour = (req: ReceivedWebhook, nth: number) => number | 'hang' | { redirect: string };

/**
 * A webhook receiver on loopback, as a customer's would be: it records every request (path, headers, raw
 * body) and answers per path as the test says (default 200). `hang` holds the request open until the
 * receiver stops, so the sender's timeout is what ends it.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  /** The most requests held open at once (`hang`). */
  maxHanging = 0;
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly hanging = new Set<ServerResponse>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<WebhookReceiver> {
    const server = createServer();
    const receiver = new WebhookReceiver(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const got = {
          path: req.url ?? '/',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        receiver.received.push(got);
        const nth = receiver.received.filter((r) => r.path === got.path).length;
        const answer = receiver.behaviours.get(got.path)?.(got, nth) ?? 200;
        if (answer === 'hang') {
          receiver.hanging.add(res);
          receiver.maxHanging = Math.max(receiver.maxHanging, receiver.hanging.size);
          res.on('close', () => receiver.hanging.delete(res));
          return;
        }
        if (typeof answer === 'object') res.writeHead(302, { location: answer.redirect }).end();
        else res.writeHead(answer, { 'content-type': 'text/plain' }).end('receiver answer body');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  on(path: string, behaviour: Behaviour): void {
    this.behaviours.set(path, behaviour);
  }

  at(path: string): ReceivedWebhook[] {
    return this.received.filter((r) => r.path === path);
  }

  /** How many requests each `webhook-id` arrived in, at `path`. */
  countsById(path: string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.at(path)) {
      const id = String(r.headers['webhook-id']);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
