import type { DynamicModule, ModuleMetadata, Provider } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { loadAppConfig } from 'src/app.registrations';
import { AppConfigModule } from 'src/config/config.module';
import type { Env } from 'src/config/env-reader';
import { DatabaseModule } from 'src/database/database.module';
import type { TestDatabase } from 'test/helpers/database';
import { CapturedLogger, type LogCapture } from 'test/helpers/log-capture';

// The integration tier boots only the modules a service needs; this file imports nothing of the rest of the
// app (test/helpers/app.ts boots the whole AppModule), so those test files load only what they use.

export interface BootOptions {
  /**
   * Providers visible to every module of the app (a global module), for the injection points production
   * leaves optional, such as the revocation feed's connection factory (FEED_CLIENT_FACTORY).
   */
  providers?: Provider[];
}

/** The `providers` as a global module, so that any module's optional injection point sees them. */
export function globalProviders(providers: Provider[]): DynamicModule[] {
  if (!providers.length) return [];
  const tokens = providers.map((p) => ('provide' in p ? p.provide : p));
  return [{ module: class TestProvidersModule {}, global: true, providers, exports: tokens }];
}

export interface TestModules {
  moduleRef: TestingModule;
  /** What the modules logged (Nest's Logger), one JSON line per call. */
  logs: LogCapture;
  close(): Promise<void>;
}

/**
 * Boots only `imports` (feature modules) with the configuration and the database they need, on `db`, for
 * the integration tier: a service with its real repositories on a real database (migrations applied at
 * start, as the app does), no HTTP, no other feature.
 */
export async function startModules(
  db: TestDatabase,
  imports: NonNullable<ModuleMetadata['imports']>,
  options: BootOptions & { env?: Env } = {},
): Promise<TestModules> {
  const config = loadAppConfig({ NODE_ENV: 'test', ...options.env, DATABASE_URL: db.url });
  const logger = new CapturedLogger();
  const moduleRef = await Test.createTestingModule({
    imports: [
      AppConfigModule.forRoot(config),
      DatabaseModule,
      ...imports,
      ...globalProviders(options.providers ?? []),
    ],
  })
    .setLogger(logger)
    .compile();
  await moduleRef.init();
  return { moduleRef, logs: logger.capture, close: () => moduleRef.close() };
}
