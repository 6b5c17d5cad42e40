import { defineConfig } from 'src/config/config-slice';

/** How long the HTTP server waits on a client, and how many connections it holds (`createAdapter`). */
export interface HttpConfig {
  /**
   * HTTP_REQUEST_TIMEOUT_MS: the whole request, headers and body, must arrive within this long from its first
   * byte; a request still arriving then is answered 408 and its connection closed. Bodies are 64 KiB at most,
   * so only a client that trickles its bytes comes near it.
   */
  requestTimeoutMs: number;
  /** HTTP_HEADERS_TIMEOUT_MS: the same for the headers alone; at most the request timeout. */
  headersTimeoutMs: number;
  /**
   * HTTP_KEEP_ALIVE_TIMEOUT_MS: an idle keep-alive connection is closed after this long. Behind a load
   * balancer it must exceed the balancer's own idle timeout, or the balancer may reuse a closing connection.
   */
  keepAliveTimeoutMs: number;
  /** HTTP_MAX_CONNECTIONS: open connections this instance accepts; one more is closed as soon as it opens. */
  maxConnections: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
/** Fastify's default: longer than the 60 s idle timeout of the common load balancers. */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 72_000;
export const DEFAULT_MAX_CONNECTIONS = 10_000;

const HOUR_MS = 3_600_000;

export const httpConfig = defineConfig('http', (env): HttpConfig => {
  const requestTimeoutMs = env.int('HTTP_REQUEST_TIMEOUT_MS', DEFAULT_REQUEST_TIMEOUT_MS, 100, HOUR_MS);
  const headersTimeoutMs = env.int(
    'HTTP_HEADERS_TIMEOUT_MS',
    Math.min(DEFAULT_HEADERS_TIMEOUT_MS, requestTimeoutMs),
    100,
    HOUR_MS,
  );
  if (headersTimeoutMs > requestTimeoutMs)
    env.problem('HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS');
  return {
    requestTimeoutMs,
    headersTimeoutMs,
    keepAliveTimeoutMs: env.int('HTTP_KEEP_ALIVE_TIMEOUT_MS', DEFAULT_KEEP_ALIVE_TIMEOUT_MS, 100, HOUR_MS),
    maxConnections: env.int('HTTP_MAX_CONNECTIONS', DEFAULT_MAX_CONNECTIONS, 1, 1_000_000),
  };
});
