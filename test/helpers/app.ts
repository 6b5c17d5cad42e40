import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import type { Server } from 'node:http';
import { AppModule } from 'src/app.module';
import { configureApp } from 'src/app.setup';
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

/**
 * Boots the real AppModule, with the same pipeline as main.ts, on `db`. `env` is the whole environment the
 * app sees (plus DATABASE_URL): tests state every variable they rely on.
 */
/**
 * nestjs-pino keeps one pino-http instance per process, built by the first app that logs, so every app a
 * test file boots writes into the same destination. One capture per file (Jest gives each file its own
 * module registry) therefore holds every line of every app in the file, and scanning it misses nothing.
 */
const fileLogs = new LogCapture();

export async function startTestApp(db: TestDatabase, env: Env = {}): Promise<TestApp> {
  const logs = fileLogs;
  const moduleRef = await Test.createTestingModule({
    imports: [
      AppModule.forRoot({
        env: { NODE_ENV: 'test', LOG_LEVEL: 'info', ...env, DATABASE_URL: db.url },
        logDestination: logs,
      }),
    ],
  }).compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({
    bodyParser: false,
    bufferLogs: true,
  });
  configureApp(app);
  await app.init();
  return { app, http: app.getHttpServer(), logs, close: () => app.close() };
}
