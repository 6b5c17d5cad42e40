import type { INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import { AppModule } from 'src/app.module';
import { createApp } from 'src/app.setup';
import { appConfig } from 'src/config/app-config';
import { loadConfig } from 'src/config/config-slice';
import type { Env } from 'src/config/env-reader';
import type { TestDatabase } from 'test/helpers/database';
import { LogCapture } from 'test/helpers/log-capture';

export interface TestApp {
  app: INestApplication;
  http: Server;
  /** Every line logged by every app of this test file (see `fileLogs`). */
  logs: LogCapture;
  close(): Promise<void>;
}

/** One capture per test file (Jest gives each file its own module registry): every app of the file logs here. */
const fileLogs = new LogCapture();

/**
 * Boots the real AppModule, with the same pipeline as main.ts (`createApp`), on `db`. `env` is the whole
 * environment the app sees (plus DATABASE_URL): tests state every variable they rely on.
 */
export async function startTestApp(db: TestDatabase, env: Env = {}): Promise<TestApp> {
  const logs = fileLogs;
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'info', ...env, DATABASE_URL: db.url });
  const app = await createApp(AppModule.forRoot({ config, logDestination: logs }), config.get(appConfig));
  await app.init();
  // Fastify answers only once its plugins are ready; supertest would otherwise hang on the first request.
  await app.getHttpAdapter().getInstance().ready();
  return { app, http: app.getHttpServer(), logs, close: () => app.close() };
}
