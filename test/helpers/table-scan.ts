import type { TestDatabase } from 'test/helpers/database';

/**
 * Every secret found in plaintext anywhere in the database: every row of every table, read as text (bytea
 * columns come out as hex, so each secret is also looked for hex-encoded). Answers `table: secret…` findings,
 * the secret cut short so a failure message does not spread it further.
 */
export async function plaintextInTables(db: TestDatabase, secrets: readonly string[]): Promise<string[]> {
  const tables = await db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
  );
  const findings: string[] = [];
  for (const { table_name: table } of tables) {
    const rows = await db.query<{ row: string }>(`SELECT t::text AS row FROM "${table}" t`);
    const text = rows.map((r) => r.row).join('\n');
    for (const secret of secrets) {
      if (secret.length === 0) continue;
      const hex = Buffer.from(secret, 'utf8').toString('hex');
      if (text.includes(secret) || text.toLowerCase().includes(hex))
        findings.push(`${table}: ${secret.slice(0, 6)}…`);
    }
  }
  return findings;
}
