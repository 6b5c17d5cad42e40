/**
 * Load side shared by the benchmarks: a fresh database, the app's child process (started, awaited until
 * it listens, stopped), the base environment it runs with, and the entry point's error handling.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from 'src/database/embedded-postgres';

export interface BenchDatabase {
  url: string;
  cleanup(): Promise<void>;
}

/** A fresh database `<prefix>_<random>`: on DATABASE_URL's server when set, otherwise a throwaway embedded PostgreSQL. */
export async function benchDatabase(prefix: string): Promise<BenchDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  if (process.env.DATABASE_URL) {
    const server = new URL(process.env.DATABASE_URL);
    const admin = new Client({ connectionString: server.toString() });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    await admin.end();
    const url = new URL(server);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      cleanup: async () => {
        const a = new Client({ connectionString: server.toString() });
        await a.connect();
        await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await a.end();
      },
    };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'keysmith-bench-pg-'));
  const db = await startEmbeddedPostgres({ dataDir, database: name, ephemeral: true });
  return {
    url: db.url,
    cleanup: async () => {
      await db.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The environment every benchmark server runs with (production, the default log level); each adds its own. */
export function baseServerEnv(databaseUrl: string): NodeJS.ProcessEnv {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    OAUTH_CALLBACK_ORIGIN: 'http://127.0.0.1',
    SETTINGS_UI_ORIGIN: 'http://127.0.0.1',
    TOKEN_SIGNING_KEY: generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString(),
    PATH: process.env.PATH,
  };
}

/** Forks the server `entry` and resolves once it reports `{type: 'listening', port}` over IPC. */
export function forkServer(
  entry: string,
  options: { args?: string[]; env: NodeJS.ProcessEnv; execArgv: string[]; quiet?: boolean },
): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(entry, options.args ?? [], {
    env: options.env,
    execArgv: options.execArgv,
    // A quiet server still formats and writes every log line; they go to /dev/null instead of the terminal.
    stdio: ['ignore', options.quiet ? 'ignore' : 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    child.on('message', (msg: { type: string; port?: number }) => {
      if (msg.type === 'listening') resolve({ child, port: msg.port! });
    });
  });
}

/** Asks a forked server to close and waits for it to exit (no-op if it is already gone). */
export async function stopServer(child: ChildProcess | undefined): Promise<void> {
  if (!child?.connected) return;
  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.send({ type: 'stop' });
  await exited;
}

/** `value / baseline` for a table cell, e.g. `0.85×` (`1.00×` without a baseline). */
export function ratio(value: number, baseline?: number): string {
  return baseline === undefined ? '1.00×' : `${(value / baseline).toFixed(2)}×`;
}

/** Runs a benchmark's `main`, printing the stack and exiting 1 on failure. */
export function runBenchmark(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
