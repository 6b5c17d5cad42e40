import { MigrationExecutor, type DataSource } from 'typeorm';

// An arbitrary constant shared by every keysmith instance: pg_advisory_xact_lock serialises migrations so two
// instances starting together cannot both try to apply the same migration.
const MIGRATION_LOCK_KEY = 0x6b65_7973; // "keys"

/**
 * Applies pending migrations in one transaction that first takes a transaction-scoped advisory lock: a second
 * instance waits for the first one's commit, then finds nothing pending. One transaction, a transaction lock
 * and SET LOCAL keep it correct behind a transaction-mode pooler too (decision 0103), where a session lock
 * or a session SET would land on whichever server connection the pooler picked and stay there. The pool's
 * statement_timeout does not apply: a second instance waits as long as the first one's migrations take, and
 * a migration is never cancelled for being slow. All pending migrations commit together or not at all.
 */
export async function runMigrationsLocked(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.startTransaction();
    await runner.query('SET LOCAL statement_timeout = 0');
    await runner.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    const executor = new MigrationExecutor(dataSource, runner);
    // The transaction is ours: the executor runs every migration inside it.
    executor.transaction = 'none';
    const applied = await executor.executePendingMigrations();
    await runner.commitTransaction();
    return applied.map((m) => m.name);
  } catch (err) {
    if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
    throw err;
  } finally {
    await runner.release();
  }
}
