import type { INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';

/** In-flight requests get this long to finish before their connections are cut. */
export const DRAIN_TIMEOUT_MS = 10_000;

/**
 * Stops the application in the order that loses nothing: first the HTTP server (no new connections, idle
 * keep-alive connections closed, in-flight requests allowed to finish), then Nest's shutdown hooks. Work a
 * request leaves behind (a key use to record) is therefore queued before the hooks flush it, and the hooks
 * run before the DataSource is destroyed. `app.close()` alone would run the flush hooks first and close
 * the server afterwards, dropping whatever the last requests recorded.
 */
export async function closeGracefully(app: INestApplication, drainMs = DRAIN_TIMEOUT_MS): Promise<void> {
  const server = app.getHttpServer() as Server;
  if (server.listening) {
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => server.closeAllConnections(), drainMs).unref();
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
    });
  }
  await app.close();
}
