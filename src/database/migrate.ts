import type { DataSource } from 'typeorm';

// An arbitrary constant shared by every keysmith instance: pg_advisory_lock serialises migrations so two
// instances starting together cannot both try to apply the same migration.
const MIGRATION_LOCK_KEY = 0x6b65_7973; // "keys"

export async function runMigrationsLocked(dataSource: DataSource): Promise<string[]> {
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lock.release();
  }
}
