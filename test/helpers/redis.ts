import { spawnSync } from 'node:child_process';

const HOW_TO_RUN = 'run them with REDIS_URL=redis://127.0.0.1:6379 npm test';

/** `redis://host:port` of `url`, without credentials: what an error message may show. */
function where(url: string): string {
  try {
    const { protocol, host } = new URL(url);
    return `${protocol}//${host}`;
  } catch {
    return 'an unparsable URL';
  }
}

// Run in a child process, so the suite can be declared synchronously: connect and PING with ioredis (AUTH and
// TLS as the app would do them), once, with no retries.
const PROBE = `
const Redis = require(process.env.PROBE_IOREDIS);
const r = new Redis(process.env.PROBE_URL, {
  lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null,
});
let seen;
r.on('error', (e) => { seen = seen || e; });
r.connect().then(() => r.ping()).then(
  () => process.exit(0),
  (e) => { process.stderr.write(String((seen || e).message)); process.exit(1); },
);
setTimeout(() => { process.stderr.write('no answer within 4 s'); process.exit(1); }, 4000);
`;

/** Why the Redis at `url` cannot be used, or undefined when it answers PING. */
function redisProblem(url: string): string | undefined {
  const probe = spawnSync(process.execPath, ['-e', PROBE], {
    env: { ...process.env, PROBE_URL: url, PROBE_IOREDIS: require.resolve('ioredis') },
    timeout: 10_000,
    encoding: 'utf8',
  });
  if (probe.status === 0) return undefined;
  return probe.stderr.trim() || probe.error?.message || `probe exited with ${probe.status}`;
}

/**
 * Declares Redis-backed tests. With REDIS_URL set they always run, against that server; when it does not
 * answer, a failing test says so instead of them (they are not run against a dead server, and never
 * skipped). With REDIS_URL unset they are skipped, and the title and a log line say how to run them.
 */
export function describeWithRedis(title: string, body: (redisUrl: string) => void): void {
  const url = process.env.REDIS_URL;
  if (!url) {
    console.info(`Redis-backed tests skipped (REDIS_URL is unset): ${HOW_TO_RUN}`);
    describe.skip(`${title} [skipped: REDIS_URL is unset; ${HOW_TO_RUN}]`, () => body('redis://unset'));
    return;
  }
  const problem = redisProblem(url);
  if (problem !== undefined) {
    describe(title, () => {
      it('needs the Redis at REDIS_URL', () => {
        throw new Error(
          `REDIS_URL is set (${where(url)}) but Redis does not answer (${problem}): start Redis there, ` +
            'or unset REDIS_URL to skip the Redis-backed tests',
        );
      });
    });
    return;
  }
  describe(title, () => body(url));
}
