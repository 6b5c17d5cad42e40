import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * A named (prepared) statement run on the pool of TypeORM's pg driver, skipping the query-runner layer:
 * each pooled connection parses and plans it once. For the few queries on a hot path (a credential lookup
 * per request); everything else goes through TypeORM.
 */
function pool(dataSource: DataSource): Pool {
  return (dataSource.driver as unknown as { master: Pool }).master;
}

export async function preparedQuery<T>(
  dataSource: DataSource,
  name: string,
  text: string,
  values: unknown[],
): Promise<T[]> {
  const { rows } = await pool(dataSource).query<T & object>({ name, text, values });
  return rows;
}

/** Whether requests are queueing for a pooled connection right now. */
export function poolHasWaiters(dataSource: DataSource): boolean {
  return pool(dataSource).waitingCount > 0;
}
