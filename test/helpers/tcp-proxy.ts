import { createServer, Socket, type AddressInfo, type Server } from 'node:net';

/**
 * A TCP proxy on a free loopback port in front of `host:port`, that a test can cut (every connection closed,
 * new ones refused at once, as when the peer goes down), stall (connections stay open but nothing gets
 * through, as in a partition) and restore. For faults of Redis, say.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private down = false;
  private stalled = false;
  /** Each open connection's client side and its upstream, to pause and resume. */
  private readonly pairs = new Set<[Socket, Socket]>();

  private constructor(private readonly server: Server) {}

  static async start(host: string, port: number): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server);
    server.on('connection', (client) => proxy.accept(client, host, port));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The peer is gone: open connections are reset and new ones closed as soon as they arrive. */
  cut(): void {
    this.down = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /** Nothing gets through any more, either way, and nothing is closed: requests go unanswered. */
  stall(): void {
    this.stalled = true;
    for (const [client, upstream] of this.pairs) {
      client.pause();
      upstream.pause();
    }
  }

  /** Connections reach the peer again (after a stall, what was sent meanwhile goes through now). */
  restore(): void {
    this.down = false;
    this.stalled = false;
    for (const [client, upstream] of this.pairs) {
      client.resume();
      upstream.resume();
    }
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, host: string, port: number): void {
    if (this.down) {
      client.destroy();
      return;
    }
    const upstream = new Socket();
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.connect(port, host);
    client.pipe(upstream).pipe(client);
    if (this.stalled) {
      client.pause();
      upstream.pause();
    }
  }
}
