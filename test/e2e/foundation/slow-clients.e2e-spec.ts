import type { Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { eventually } from 'test/helpers/waiting';

/**
 * Slow clients cannot hold the server: a request still arriving when HTTP_REQUEST_TIMEOUT_MS (or, for its
 * headers, HTTP_HEADERS_TIMEOUT_MS) passes is answered 408 and its connection closed, however steadily it
 * trickles; and past HTTP_MAX_CONNECTIONS a new connection is closed as soon as it opens. Nothing here asserts
 * a duration: each test waits for the server to act, under the suite's generous timeout.
 */
describe('slow clients: request timeout and connection cap', () => {
  const suite = e2eSuite({ issuers: false });
  let t: TestApp;
  let port: number;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    t = await suite.start({
      HTTP_REQUEST_TIMEOUT_MS: '1000',
      HTTP_HEADERS_TIMEOUT_MS: '1000',
      HTTP_MAX_CONNECTIONS: '2',
    });
    const server: Server = t.http;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    // Every connection of the test is gone on the server's side too before the next test counts its own.
    await eventually(() => openConnections().then((n) => n === 0));
  });

  const openConnections = (): Promise<number> =>
    new Promise((resolve, reject) =>
      t.http.getConnections((err, count) => (err ? reject(err) : resolve(count))),
    );

  /** A connection, and everything the server sent on it until it closed it. */
  function open(): { socket: Socket; connected: Promise<void>; closed: Promise<string> } {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const connected = new Promise<void>((resolve) => socket.once('connect', resolve));
    const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(received)));
    socket.on('error', () => undefined);
    return { socket, connected, closed };
  }

  /** Writes `chunk` one byte at a time, a byte every 50 ms, until the socket closes or the chunk ends. */
  function trickle(socket: Socket, chunk: string): void {
    let i = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || !socket.writable || i >= chunk.length) return clearInterval(timer);
      socket.write(chunk[i++]!);
    }, 50);
    socket.once('close', () => clearInterval(timer));
  }

  const expect408 = (received: string): void => {
    const [head, body] = received.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(head).toMatch(/\r\nConnection: close$/im);
    expect(JSON.parse(body ?? '')).toEqual({
      error: { type: 'validation_failed', status: 408, message: 'Request timed out.' },
    });
  };

  it('answers a body still trickling in at the request timeout with 408 and closes the connection', async () => {
    const { socket, connected, closed } = open();
    await connected;
    const body = JSON.stringify({ key: 'x'.repeat(2_000) });
    socket.write(
      'POST /api/v1/internal/api-keys/resolve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        `Content-Length: ${body.length}\r\n\r\n`,
    );
    // A byte every 50 ms: never idle, but 2,000 bytes would take 100 s.
    trickle(socket, body);
    expect408(await closed);
  });

  it('answers headers still trickling in at the headers timeout with 408 and closes the connection', async () => {
    const { socket, connected, closed } = open();
    await connected;
    socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n');
    trickle(socket, `X-Slow: ${'y'.repeat(2_000)}\r\n\r\n`);
    expect408(await closed);
  });

  it('closes a connection past the cap at once, and accepts one again when a slot frees', async () => {
    const held = [open(), open()];
    for (const { socket, connected } of held) {
      await connected;
      socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n');
    }
    await eventually(() => openConnections().then((n) => n === 2));

    const refused = open();
    expect(await refused.closed).toBe('');

    held[0]!.socket.destroy();
    await eventually(() => openConnections().then((n) => n === 1));
    const admitted = open();
    await admitted.connected;
    admitted.socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(await admitted.closed).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });
});
