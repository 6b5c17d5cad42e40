import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export interface TestDatabase {
  url: string;
  /** Runs SQL against this file's database (for scanning rows, forcing states). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
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
  const client = new Client({ connectionString: url });
  await client.connect();
  return {
    url,
    async query<T>(sql: string, params?: unknown[]): Promise<T[]> {
      const result = await client.query(sql, params);
      return result.rows as T[];
    },
    async drop(): Promise<void> {
      await client.end();
      const a = new Client({ connectionString: serverUrl('postgres') });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await a.end();
    },
  };
}
