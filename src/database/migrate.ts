import { MigrationExecutor, type DataSource } from 'typeorm';

// An arbitrary constant shared by every keysmith instance: pg_advisory_lock serialises migrations so two
// instances starting together cannot both try to apply the same migration.
const MIGRATION_LOCK_KEY = 0x6b65_7973; // "keys"

/**
 * Applies pending migrations under a session advisory lock. The pool's statement_timeout does not apply
 * here: a second instance waits as long as the first one's migrations take, and a migration is never
 * cancelled for being slow. Migrations run on the lock's own connection.
 */
export async function runMigrationsLocked(dataSource: DataSource): Promise<string[]> {
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SET statement_timeout = 0');
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const executor = new MigrationExecutor(dataSource, lock);
    executor.transaction = 'each';
    const applied = await executor.executePendingMigrations();
    return applied.map((m) => m.name);
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lock.query('RESET statement_timeout').catch(() => undefined);
    await lock.release();
  }
}
