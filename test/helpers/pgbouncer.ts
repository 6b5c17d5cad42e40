import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STATEMENT_TIMEOUT_MS } from 'src/database/data-source-options';
import { eventually } from 'test/helpers/waiting';

const HOW_TO_RUN =
  'install Debian’s pgbouncer (apt-get install pgbouncer; .ci/run does) or set PGBOUNCER_PATH';

/** The pgbouncer binary: PGBOUNCER_PATH, else Debian's, else one on PATH; undefined when there is none. */
export function pgbouncerPath(): string | undefined {
  const candidates = [process.env.PGBOUNCER_PATH, '/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'];
  const found = candidates.find((path) => path && existsSync(path));
  if (found) return found;
  const which = spawnSync('sh', ['-c', 'command -v pgbouncer'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() ? which.stdout.trim() : undefined;
}

/**
 * Declares tests that need PgBouncer. Without the binary they are skipped, and the title and a log line say
 * why and how to run them.
 */
export function describeWithPgBouncer(title: string, body: (binary: string) => void): void {
  const binary = pgbouncerPath();
  if (!binary) {
    console.info(`PgBouncer tests skipped (no pgbouncer binary): ${HOW_TO_RUN}`);
    describe.skip(`${title} [skipped: no pgbouncer binary; ${HOW_TO_RUN}]`, () => body('pgbouncer'));
    return;
  }
  describe(title, () => body(binary));
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

/** A PgBouncer in transaction mode in front of the suite's PostgreSQL server. */
export class PgBouncer {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly port: number,
    /** What it printed (its log goes to stderr), for a failing test to show. */
    readonly output: string[],
  ) {}

  /**
   * Starts `binary` on a free loopback port with a generated ini: every database of `serverUrl`'s server
   * (a `*` entry), `pool_mode = transaction`, the user of `serverUrl` (trust between the test and PgBouncer;
   * its password, if any, towards PostgreSQL), and statement_timeout set on each server connection
   * (`connect_query`), as docs/operations.md tells operators to. PgBouncer refuses to run as root: as root it
   * runs as `nobody`. Unless `ignoreStartupParameters` says otherwise it refuses every startup parameter it
   * does not track (statement_timeout among them), as PgBouncer does by default.
   */
  static async start(
    binary: string,
    serverUrl: string,
    options: {
      poolSize?: number;
      /** `ignore_startup_parameters`: what many real configurations list so that clients' SETs pass. */
      ignoreStartupParameters?: string[];
    } = {},
  ): Promise<PgBouncer> {
    const server = new URL(serverUrl);
    const user = decodeURIComponent(server.username || 'postgres');
    const password = decodeURIComponent(server.password);
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'keysmith-pgbouncer-'));
    chmodSync(dir, 0o755);
    const target = [
      `host=${server.hostname.replace(/^\[|\]$/g, '')}`,
      `port=${server.port || '5432'}`,
      `user=${user}`,
      ...(password ? [`password=${password}`] : []),
      `connect_query='SET statement_timeout = ${STATEMENT_TIMEOUT_MS}'`,
    ].join(' ');
    const ini = [
      '[databases]',
      `* = ${target}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${options.poolSize ?? 10}`,
      'max_client_conn = 1000',
      'max_db_connections = 0',
      ...(options.ignoreStartupParameters?.length
        ? [`ignore_startup_parameters = ${options.ignoreStartupParameters.join(',')}`]
        : []),
      // Test databases come and go: no idle server connection should keep one from being dropped for long.
      'server_idle_timeout = 5',
      'server_lifetime = 60',
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n');
    writeFileSync(join(dir, 'pgbouncer.ini'), ini, { mode: 0o644 });
    writeFileSync(join(dir, 'userlist.txt'), `"${user}" ""\n`, { mode: 0o644 });
    const asRoot = process.getuid?.() === 0;
    const child = spawn(binary, [join(dir, 'pgbouncer.ini')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(asRoot && { uid: 65534, gid: 65534 }),
    });
    const output: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const bouncer = new PgBouncer(child, dir, port, output);
    try {
      await eventually(async () => {
        if (child.exitCode !== null) throw new Error(`pgbouncer exited: ${output.join('')}`);
        return accepts(port);
      });
    } catch (err) {
      await bouncer.stop();
      throw err;
    }
    return bouncer;
  }

  /** `url` (a database of the suite's server) through this PgBouncer. */
  urlFor(url: string): string {
    const through = new URL(url);
    through.hostname = '127.0.0.1';
    through.port = String(this.port);
    through.password = '';
    return through.toString();
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGINT');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
