import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from 'src/app.module';
import { configureApp } from 'src/app.setup';
import { ConfigValidationError, loadAppConfig } from 'src/config/app-config';
import { startEmbeddedPostgres, type EmbeddedDatabase } from 'src/database/embedded-postgres';
import { closeGracefully } from 'src/http/graceful-shutdown';

async function bootstrap(): Promise<void> {
  const env = { ...process.env };
  const config = loadAppConfig(env);

  let embedded: EmbeddedDatabase | undefined;
  if (!config.databaseUrl) {
    process.stdout.write('DATABASE_URL is unset: starting embedded PostgreSQL under ./.data/postgres\n');
    embedded = await startEmbeddedPostgres({ dataDir: '.data/postgres', database: 'keysmith' });
    env.DATABASE_URL = embedded.url;
  }

  let app: NestExpressApplication;
  try {
    app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot({ env }), {
      bodyParser: false,
      bufferLogs: true,
      // Startup errors (a failed migration, say) are reported once, below, and the database is stopped.
      abortOnError: false,
    });
    configureApp(app);
  } catch (err) {
    await embedded?.stop();
    throw err;
  }

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal} received: draining requests and stopping\n`);
    try {
      // The HTTP server stops (in-flight requests finish) before the shutdown hooks flush and close.
      await closeGracefully(app);
      await embedded?.stop();
    } finally {
      process.exit(0);
    }
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  try {
    await app.listen(config.port, config.host);
  } catch (err) {
    await app.close();
    await embedded?.stop();
    throw err;
  }
}

bootstrap().catch(async (err: unknown) => {
  // Config problems name variables, never values; anything else prints its message only.
  const message =
    err instanceof ConfigValidationError
      ? err.message
      : `Startup failed: ${err instanceof Error ? err.message : 'unknown error'}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
