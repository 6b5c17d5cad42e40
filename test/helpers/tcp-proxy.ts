import { createServer, Socket, type AddressInfo, type Server } from 'node:net';

/**
 * A TCP proxy on a free loopback port in front of `host:port`, that a test can cut (every connection closed,
 * new ones refused at once, as when the peer goes down) and restore. For faults of Redis, say.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private down = false;

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

  /** Connections reach the peer again. */
  restore(): void {
    this.down = false;
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
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.connect(port, host);
    client.pipe(upstream).pipe(client);
  }
}
