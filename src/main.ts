import 'reflect-metadata';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from 'src/app.module';
import { loadAppConfig } from 'src/app.registrations';
import { createApp } from 'src/app.setup';
import { appConfig } from 'src/config/app-config';
import { ConfigValidationError } from 'src/config/env-reader';
import { startEmbeddedPostgres, type EmbeddedDatabase } from 'src/database/embedded-postgres';
import { closeGracefully } from 'src/http/graceful-shutdown';

let app: NestFastifyApplication | undefined;
let embedded: EmbeddedDatabase | undefined;
let stopping = false;

/**
 * The one way out: drain and close the app if it is up, then stop the embedded database if we started it.
 * Signals, startup failures and crashes all come through here, so the database is never orphaned.
 */
async function stop(code: number, reason: string): Promise<never> {
  if (stopping) return new Promise<never>(() => undefined);
  stopping = true;
  process.stdout.write(`${reason}: stopping\n`);
  let exitCode = code;
  try {
    if (app) await closeGracefully(app);
  } catch (err) {
    process.stderr.write(`error while stopping the app: ${(err as Error).message}\n`);
    exitCode = 1;
  }
  try {
    await embedded?.stop();
  } catch (err) {
    process.stderr.write(`error while stopping the embedded database: ${(err as Error).message}\n`);
    exitCode = 1;
  }
  process.exit(exitCode);
}

async function bootstrap(): Promise<void> {
  const env = { ...process.env };
  // Validated before anything starts.
  let config = loadAppConfig(env);

  if (!config.get(appConfig).databaseUrl) {
    process.stdout.write('DATABASE_URL is unset: starting embedded PostgreSQL under ./.data/postgres\n');
    embedded = await startEmbeddedPostgres({ dataDir: '.data/postgres', database: 'keysmith' });
    env.DATABASE_URL = embedded.url;
    // For the TypeORM CLI and `npm run credentials:rewrap` while it runs. A fixed local password on a
    // loopback-only development server, not a secret.
    process.stdout.write(`embedded PostgreSQL ready: DATABASE_URL=${embedded.url}\n`);
    config = loadAppConfig(env);
  }

  // Startup errors (a failed migration, say) are reported once, by stop(), which also stops the database.
  app = await createApp(AppModule.forRoot({ config }), config);
  const { port, host } = config.get(appConfig);
  await app.listen(port, host);
}

// Registered before anything starts, so a signal during startup (migrations) still stops the database.
process.once('SIGINT', () => void stop(0, 'SIGINT received'));
process.once('SIGTERM', () => void stop(0, 'SIGTERM received'));
process.on('uncaughtException', (err) => void stop(1, `uncaught exception: ${err.message}`));
process.on(
  'unhandledRejection',
  (err) => void stop(1, `unhandled rejection: ${err instanceof Error ? err.message : 'unknown reason'}`),
);

bootstrap().catch((err: unknown) => {
  // Config problems name variables, never values; anything else prints its message only.
  const message =
    err instanceof ConfigValidationError
      ? err.message
      : `Startup failed: ${err instanceof Error ? err.message : 'unknown error'}`;
  process.stderr.write(`${message}\n`);
  return stop(1, 'startup failed');
});
