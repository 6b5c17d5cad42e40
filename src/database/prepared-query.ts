import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';

function pool(dataSource: DataSource): Pool {
  return (dataSource.driver as unknown as { master: Pool }).master;
}

/** The DataSources whose pool goes through a transaction-mode pooler: no named statements there. */
const pooled = new WeakSet<DataSource>();

/**
 * Marks `dataSource` as connected through a transaction-mode pooler (DATABASE_LISTEN_URL set, decision 0103):
 * `preparedQuery` then sends unnamed statements. A named statement lives on one server connection, and a
 * transaction-mode pooler hands the next query to any of them ("prepared statement … does not exist"); only
 * PgBouncer ≥ 1.21 with `max_prepared_statements` maps them, and Debian 12 ships 1.18.
 */
export function useUnnamedStatements(dataSource: DataSource): void {
  pooled.add(dataSource);
}

/**
 * A named (prepared) statement run on the pool of TypeORM's pg driver, skipping the query-runner layer:
 * each pooled connection parses and plans it once. For the few queries on a hot path (a credential lookup
 * per request); everything else goes through TypeORM. Behind a transaction-mode pooler the statement is
 * unnamed (parsed on every call, in the same round trip).
 */
export async function preparedQuery<T>(
  dataSource: DataSource,
  name: string,
  text: string,
  values: unknown[],
): Promise<T[]> {
  const query = pooled.has(dataSource) ? { text, values } : { name, text, values };
  const { rows } = await pool(dataSource).query<T & object>(query);
  return rows;
}

/** Whether requests are queueing for a pooled connection right now. */
export function poolHasWaiters(dataSource: DataSource): boolean {
  return pool(dataSource).waitingCount > 0;
}

/** The pool's connections and the requests queueing for one, read when /metrics is scraped. */
export function poolStats(dataSource: DataSource): { total: number; idle: number; waiting: number } {
  const p = pool(dataSource);
  return { total: p.totalCount, idle: p.idleCount, waiting: p.waitingCount };
}
