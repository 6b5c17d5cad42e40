import type { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from 'migrations/index';
import { join } from 'node:path';

/** The cap on any statement of the connection pool. */
export const STATEMENT_TIMEOUT_MS = 10_000;

/**
 * Every entity file of the tree, for the TypeORM CLI and the migration round trip (the app itself registers
 * each feature's entities through `TypeOrmModule.forFeature`).
 */
export const ENTITY_FILES = join(__dirname, '..', '**', '*.entity.{ts,js}');

/**
 * `transactionPooler`: `url` goes through a transaction-mode pooler (DATABASE_LISTEN_URL is set, decision
 * 0103). PgBouncer refuses startup parameters it does not track (`statement_timeout` among them), so none is
 * sent: the pooler or the role sets the cap (docs/operations.md), and the pool checks it when it starts.
 */
export function dataSourceOptions(
  url: string,
  entities: DataSourceOptions['entities'] = [ENTITY_FILES],
  transactionPooler = false,
): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    migrationsRun: false,
    logging: false,
    // statement_timeout: no statement on the pool runs longer than this (an unresponsive database or a lock
    // never holds a connection forever). The migration lock connection lifts it for itself (migrate.ts).
    extra: {
      max: 20,
      connectionTimeoutMillis: 5_000,
      ...(!transactionPooler && { statement_timeout: STATEMENT_TIMEOUT_MS }),
    },
  };
}
