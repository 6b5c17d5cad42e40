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

export function dataSourceOptions(
  url: string,
  entities: DataSourceOptions['entities'] = [ENTITY_FILES],
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
    extra: { max: 20, connectionTimeoutMillis: 5_000, statement_timeout: STATEMENT_TIMEOUT_MS },
  };
}
