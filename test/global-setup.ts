import { generateKeyPair } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { ISSUER_KEY_POOL_ENV, ISSUER_KEY_POOL_SIZE } from './helpers/issuer-keys';

declare global {
  var __KEYSMITH_TEST_PG__: { stop(): Promise<void>; dataDir: string } | undefined;
  var __KEYSMITH_TEST_TMP__: string | undefined;
}

/**
 * RSA keys for the test issuers (test/helpers/issuers.ts), made once per run while the database starts:
 * generating a 2048-bit key costs about as much as everything else an issuer does, and every suite starts
 * a few issuers.
 */
async function issuerKeys(dir: string): Promise<void> {
  const keys = await Promise.all(
    Array.from({ length: ISSUER_KEY_POOL_SIZE }, async () => {
      const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
      return { ...privateKey.export({ format: 'jwk' }), alg: 'RS256' };
    }),
  );
  const file = join(dir, 'issuer-keys.json');
  writeFileSync(file, JSON.stringify(keys), { mode: 0o600 });
  process.env[ISSUER_KEY_POOL_ENV] = file;
}

/**
 * Gives the suite a PostgreSQL server: DATABASE_URL when set (it must allow CREATE DATABASE), otherwise a
 * throwaway embedded cluster. Each test file then creates its own database on it (test/helpers/database.ts).
 */
export default async function globalSetup(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'keysmith-test-run-'));
  globalThis.__KEYSMITH_TEST_TMP__ = tmp;
  const keys = issuerKeys(tmp);
  if (process.env.DATABASE_URL) {
    process.env.KEYSMITH_TEST_PG_URL = process.env.DATABASE_URL;
  } else {
    const dataDir = mkdtempSync(join(tmpdir(), 'keysmith-test-pg-'));
    const db = await startEmbeddedPostgres({ dataDir, database: 'keysmith_test', ephemeral: true });
    process.env.KEYSMITH_TEST_PG_URL = db.url;
    globalThis.__KEYSMITH_TEST_PG__ = { stop: db.stop, dataDir };
  }
  await keys;
}
