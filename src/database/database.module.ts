import { Global, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { APP_CONFIG, type AppConfig } from 'src/config/app-config';
import { dataSourceOptions, STATEMENT_TIMEOUT_MS } from 'src/database/data-source-options';
import { runMigrationsLocked } from 'src/database/migrate';
import { useUnnamedStatements } from 'src/database/prepared-query';
import { RevocationFeed } from 'src/database/revocation-feed';

/** The DataSource (migrations applied first, under a lock) and the revocation feed every credential cache uses. */
@Global()
@Module({
  providers: [RevocationFeed],
  exports: [RevocationFeed],
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => {
        if (!config.databaseUrl)
          throw new Error('DATABASE_URL is not set (main.ts starts the embedded database)');
        // Each feature registers its own entities (TypeOrmModule.forFeature).
        const pooled = config.databaseListenUrl !== undefined;
        return {
          ...dataSourceOptions(config.databaseUrl, [], pooled),
          autoLoadEntities: true,
          // A pooler that refuses the startup parameters refuses them on every attempt: say so at once.
          toRetry: (err: unknown) => !(err instanceof PoolerRefusal),
        };
      },
      // Migrations run before anything else touches the database, under an advisory lock.
      dataSourceFactory: async (options) => {
        const dataSource = await new DataSource(options!).initialize().catch((err: Error) => {
          throw explainPoolerRefusal(err);
        });
        if (transactionPooler(options!)) {
          useUnnamedStatements(dataSource);
          await checkStatementTimeout(dataSource);
        }
        const applied = await runMigrationsLocked(dataSource);
        if (applied.length) new Logger('Database').log({ applied }, 'migrations applied');
        return dataSource;
      },
    }),
  ],
})
export class DatabaseModule {}

/** Whether these options were made for a transaction-mode pooler (no statement_timeout startup parameter). */
function transactionPooler(options: DataSourceOptions): boolean {
  const extra = (options as { extra?: Record<string, unknown> }).extra;
  return extra?.statement_timeout === undefined;
}

/**
 * Behind a transaction-mode pooler the pool cannot set its statement_timeout (no startup parameter passes):
 * the pooler (`connect_query`) or the role (`ALTER ROLE … SET statement_timeout`) must. Says so loudly when
 * the connections it hands out have none.
 */
async function checkStatementTimeout(dataSource: DataSource): Promise<void> {
  const [row] = await dataSource.query<{ ms: string }[]>(
    "SELECT (EXTRACT(EPOCH FROM current_setting('statement_timeout')::interval) * 1000)::bigint AS ms",
  );
  const ms = Number(row?.ms ?? 0);
  if (ms === 0 || ms > STATEMENT_TIMEOUT_MS)
    new Logger('Database').warn(
      { statementTimeoutMs: ms, expectedMs: STATEMENT_TIMEOUT_MS },
      'DATABASE_URL goes through a transaction-mode pooler (DATABASE_LISTEN_URL is set) and its connections ' +
        'have no statement_timeout: set it on the role or in the pooler (docs/operations.md)',
    );
}

/**
 * PgBouncer refuses the pool's statement_timeout startup parameter ("unsupported startup parameter"): that
 * DATABASE_URL is a pooler, and DATABASE_LISTEN_URL (which also turns the startup parameters off) is missing.
 */
class PoolerRefusal extends Error {}

function explainPoolerRefusal(err: Error): Error {
  if (!/unsupported startup parameter/i.test(err.message)) return err;
  return new PoolerRefusal(
    `${err.message}: DATABASE_URL goes through a pooler (PgBouncer) that refuses session startup parameters; ` +
      'set DATABASE_LISTEN_URL to a direct connection to PostgreSQL (docs/operations.md#behind-a-connection-pooler)',
    { cause: err },
  );
}
