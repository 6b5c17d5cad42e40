import { Global, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from 'src/config/app-config';
import { dataSourceOptions } from 'src/database/data-source-options';
import { runMigrationsLocked } from 'src/database/migrate';
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
        return { ...dataSourceOptions(config.databaseUrl, []), autoLoadEntities: true };
      },
      // Migrations run before anything else touches the database, under an advisory lock.
      dataSourceFactory: async (options) => {
        const dataSource = await new DataSource(options!).initialize();
        const applied = await runMigrationsLocked(dataSource);
        if (applied.length) new Logger('Database').log({ applied }, 'migrations applied');
        return dataSource;
      },
    }),
  ],
})
export class DatabaseModule {}
