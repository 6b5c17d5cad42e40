// CI check: on an empty database, apply every migration, prove the entities match the schema (no drift),
// revert every migration down to nothing, then apply them all again and check drift once more.
// Uses DATABASE_URL's server when set (it must allow CREATE DATABASE), otherwise a throwaway embedded one.
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from 'src/database/data-source-options';
import { startEmbeddedPostgres, type EmbeddedDatabase } from 'src/database/embedded-postgres';
import { runMigrationsLocked } from 'src/database/migrate';

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin(url: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: withDatabase(url, 'postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function assertNoDrift(ds: DataSource, when: string): Promise<void> {
  const pending = await ds.driver.createSchemaBuilder().log();
  if (pending.upQueries.length > 0) {
    const sql = pending.upQueries.map((q) => `  ${q.query}`).join('\n');
    throw new Error(`Entities and migrations drift (${when}); a migration is missing:\n${sql}`);
  }
}

async function userTables(ds: DataSource): Promise<string[]> {
  const rows: { table_name: string }[] = await ds.query(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'migrations'",
  );
  return rows.map((r) => r.table_name);
}

async function main(): Promise<void> {
  let embedded: EmbeddedDatabase | undefined;
  let dataDir: string | undefined;
  let server = process.env.DATABASE_URL;
  if (!server) {
    dataDir = mkdtempSync(join(tmpdir(), 'keysmith-roundtrip-'));
    embedded = await startEmbeddedPostgres({ dataDir, database: 'keysmith_roundtrip', ephemeral: true });
    server = embedded.url;
  }
  const database = `ks_roundtrip_${process.pid}`;
  await admin(server, `CREATE DATABASE "${database}"`);
  const ds = new DataSource(dataSourceOptions(withDatabase(server, database)));
  try {
    await ds.initialize();
    const applied = await runMigrationsLocked(ds);
    console.log(`applied ${applied.length} migration(s): ${applied.join(', ')}`);
    await assertNoDrift(ds, 'after applying all');

    for (let i = 0; i < applied.length; i++) await ds.undoLastMigration({ transaction: 'each' });
    const left = await userTables(ds);
    if (left.length) throw new Error(`reverting every migration left tables behind: ${left.join(', ')}`);
    console.log(`reverted ${applied.length} migration(s); no tables left`);

    const again = await runMigrationsLocked(ds);
    if (again.length !== applied.length) throw new Error('re-applying did not apply every migration');
    await assertNoDrift(ds, 'after re-applying');
    console.log('re-applied all migrations; entities match the schema');
  } finally {
    if (ds.isInitialized) await ds.destroy();
    await admin(server, `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await embedded?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => console.log('migration round trip: ok'),
  (err: unknown) => {
    console.error(`migration round trip: FAILED\n${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
