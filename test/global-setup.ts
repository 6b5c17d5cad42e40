import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';

declare global {
  var __KEYSMITH_TEST_PG__: { stop(): Promise<void>; dataDir: string } | undefined;
}

/**
 * Gives the suite a PostgreSQL server: DATABASE_URL when set (it must allow CREATE DATABASE), otherwise a
 * throwaway embedded cluster. Each test file then creates its own database on it (test/helpers/database.ts).
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.DATABASE_URL) {
    process.env.KEYSMITH_TEST_PG_URL = process.env.DATABASE_URL;
    return;
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'keysmith-test-pg-'));
  const db = await startEmbeddedPostgres({ dataDir, database: 'keysmith_test', ephemeral: true });
  process.env.KEYSMITH_TEST_PG_URL = db.url;
  globalThis.__KEYSMITH_TEST_PG__ = { stop: db.stop, dataDir };
}
