import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export interface TestDatabase {
  url: string;
  /** Runs SQL against this file's database (for scanning rows, forcing states). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /**
   * A real outage for the app: the database refuses new connections and every other session on it is
   * terminated. `restore()` lets connections in again.
   */
  outage(): Promise<{ restore(): Promise<void> }>;
  drop(): Promise<void>;
}

function serverUrl(database: string): string {
  const base = process.env.KEYSMITH_TEST_PG_URL;
  if (!base)
    throw new Error('KEYSMITH_TEST_PG_URL is unset: run the suite through jest (test/global-setup.ts)');
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/** A fresh, empty database on the suite's server, so test files run in parallel without sharing rows. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `ks_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl('postgres') });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();

  const url = serverUrl(name);
  let client = new Client({ connectionString: url });
  await client.connect();
  // An outage terminates this connection too; the next query reconnects.
  const live = async (): Promise<Client> => {
    try {
      await client.query('SELECT 1');
    } catch {
      client = new Client({ connectionString: url });
      client.on('error', () => undefined);
      await client.connect();
    }
    return client;
  };
  client.on('error', () => undefined);
  return {
    url,
    async query<T>(sql: string, params?: unknown[]): Promise<T[]> {
      const result = await (await live()).query(sql, params);
      return result.rows as T[];
    },
    async outage() {
      const admin = new Client({ connectionString: serverUrl('postgres') });
      await admin.connect();
      await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
      return {
        restore: async () => {
          await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`);
          await admin.end();
        },
      };
    },
    async drop(): Promise<void> {
      await client.end().catch(() => undefined);
      const a = new Client({ connectionString: serverUrl('postgres') });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await a.end();
    },
  };
}
