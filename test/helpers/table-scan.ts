import type { TestDatabase } from 'test/helpers/database';

/**
 * Every secret of `secrets` found in plaintext anywhere in the database: every row of every table, read as
 * text. A bytea column reads as hex, so each secret is also looked for hex-encoded. Empty when none is stored
 * in the clear anywhere.
 */
export async function secretsInTables(
  db: TestDatabase,
  secrets: Iterable<string>,
): Promise<{ table: string; secret: string }[]> {
  const tables = await db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
  );
  const wanted = [...secrets].filter((s) => s.length > 0);
  const found: { table: string; secret: string }[] = [];
  for (const { table_name: table } of tables) {
    const rows = await db.query<{ row: string }>(`SELECT t::text AS row FROM "${table}" t`);
    const text = rows.map((r) => r.row).join('\n');
    const lower = text.toLowerCase();
    for (const secret of wanted) {
      if (text.includes(secret) || lower.includes(Buffer.from(secret, 'utf8').toString('hex'))) {
        found.push({ table, secret });
      }
    }
  }
  return found;
}

/** The same findings as `table: secret…`, each secret cut short so a failure message does not spread it. */
export async function plaintextInTables(db: TestDatabase, secrets: readonly string[]): Promise<string[]> {
  return (await secretsInTables(db, secrets)).map(({ table, secret }) => `${table}: ${secret.slice(0, 6)}…`);
}
