import type { TestDatabase } from 'test/helpers/database';

/**
 * Every secret of `secrets` found in some row of some table of the database (as text, and as the hex of its
 * bytes, which is how a bytea column reads), with the table it was found in. Empty when none is stored in
 * the clear anywhere.
 */
export async function secretsInTables(
  db: TestDatabase,
  secrets: Iterable<string>,
): Promise<{ table: string; secret: string }[]> {
  const tables = await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  );
  const found: { table: string; secret: string }[] = [];
  for (const { table_name: table } of tables) {
    const rows = await db.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM "${table}" t`);
    const text = rows.map((r) => r.row).join('\n');
    for (const secret of secrets) {
      if (secret.length === 0) continue;
      if (text.includes(secret) || text.includes(Buffer.from(secret, 'utf8').toString('hex')))
        found.push({ table, secret });
    }
  }
  return found;
}
