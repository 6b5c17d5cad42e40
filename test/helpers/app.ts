import { Module, type INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import { ApiKeyRevocations } from 'src/api-keys/api-key-revocations';
import { AppModule } from 'src/app.module';
import { createApp } from 'src/app.setup';
import { loadAppConfig } from 'src/app.registrations';
import type { Env } from 'src/config/env-reader';
import { createTestDatabase, type TestDatabase } from 'test/helpers/database';
import { internalEnv, M2M_AUDIENCE, SESSION_AUDIENCE, TestIssuer } from 'test/helpers/issuers';
import { LogCapture } from 'test/helpers/log-capture';
import { recordAnswers } from 'test/helpers/openapi-answers';
import { globalProviders, type BootOptions } from 'test/helpers/modules';
import { eventually } from 'test/helpers/waiting';

export interface TestApp {
  app: INestApplication;
  http: Server;
  /** Every line logged by every app of this test file (see `fileLogs`). */
  logs: LogCapture;
  close(): Promise<void>;
}

/**
 * One capture per test file (Jest gives each file its own module registry): every app the file boots logs
 * into it, so scanning it for secrets misses nothing.
 */
const fileLogs = new LogCapture();

/**
 * Boots the real AppModule, with the same pipeline as main.ts (`createApp`), on `db`. `env` is the whole
 * environment the app sees (plus DATABASE_URL): tests state every variable they rely on. Every answer is
 * recorded and checked against the OpenAPI document when the app closes (`recordAnswers`). Test files boot
 * through `e2eSuite`, which closes what they start.
 */
async function startTestApp(db: TestDatabase, env: Env, options: BootOptions): Promise<TestApp> {
  const logs = fileLogs;
  const config = loadAppConfig({ NODE_ENV: 'test', LOG_LEVEL: 'info', ...env, DATABASE_URL: db.url });
  @Module({
    imports: [
      AppModule.forRoot({ config, logDestination: logs }),
      ...globalProviders(options.providers ?? []),
    ],
  })
  class TestRootModule {}
  const app = await createApp(TestRootModule, config);
  const instance = app.getHttpAdapter().getInstance();
  const answers = recordAnswers(instance);
  try {
    await app.init();
  } catch (err) {
    // A refused start (the encryption key check, say) must not leave its connection pool open.
    await app.close().catch(() => undefined);
    throw err;
  }
  // Fastify answers only once its plugins are ready; supertest would otherwise hang on the first request.
  await instance.ready();
  await answers.load();
  let closed: Promise<void> | undefined;
  return {
    app,
    http: app.getHttpServer(),
    logs,
    // Once: a test may close an app itself (a restart, a shutdown), and the suite closes it again at the end.
    close: () =>
      (closed ??= (async () => {
        answers.check();
        await app.close();
      })()),
  };
}

/** A fresh EC P-256 private key as PEM, for apps started with NODE_ENV=production (TOKEN_SIGNING_KEY). */
export { testSigningKey } from 'test/helpers/config';

export interface E2eSuiteOptions {
  /**
   * Start the M2M and session issuers (`m2m`, `session`) that `boot` configures; default true. A suite that
   * boots only with `start` and issuers of its own turns them off.
   */
  issuers?: boolean;
}

export interface StartOptions extends BootOptions {
  /** Another database than the suite's (from `database()`), e.g. an empty one for a first start. */
  db?: TestDatabase;
}

/** Handles filled by the suite's `beforeAll`; read them inside hooks and tests only. */
export interface E2eSuite {
  readonly db: TestDatabase;
  readonly m2m: TestIssuer;
  readonly session: TestIssuer;
  /** Boots an app with `internalEnv` (plus `extraEnv`); the suite closes it in its `afterAll`. */
  boot(extraEnv?: Env, options?: StartOptions): Promise<TestApp>;
  /**
   * Boots an app with exactly `env` (no issuer configured unless `env` says so); the suite closes it in
   * its `afterAll`.
   */
  start(env?: Env, options?: StartOptions): Promise<TestApp>;
  /**
   * Registers a last look (a scan of the tables, say) that the suite's `afterAll` runs while its apps are
   * still up and its databases still there; its teardown follows even if the look fails.
   */
  beforeTeardown(check: () => unknown): void;
  /** A further fresh database, dropped by the suite after its apps are closed. */
  database(): Promise<TestDatabase>;
  /**
   * Two instances on the one database, as behind a load balancer, once both revocation listeners are up
   * (so both cache, and must invalidate, positive answers).
   */
  bootPair(): Promise<[TestApp, TestApp]>;
}

/**
 * The one way an e2e file boots apps. Registers the `beforeAll`/`afterAll` every suite repeats: one
 * database, an M2M and a session issuer, and teardown of every app booted through `boot` or `start` (last
 * booted, first closed), then of every database. Call it at the top of a `describe`; the suite's own
 * `afterAll` hooks run after this teardown (declaration order): a look that needs the apps or the database
 * goes into `beforeTeardown`.
 */
export function e2eSuite(options: E2eSuiteOptions = {}): E2eSuite {
  const withIssuers = options.issuers ?? true;
  let db: TestDatabase | undefined;
  let m2m: TestIssuer | undefined;
  let session: TestIssuer | undefined;
  const apps: TestApp[] = [];
  const databases: TestDatabase[] = [];
  const checks: (() => unknown)[] = [];
  const ready = <T>(value: T | undefined, name: string): T => {
    if (value === undefined)
      throw new Error(
        `e2eSuite: ${name} is not ready (use it inside hooks or tests${name === 'db' ? '' : ', with issuers on'})`,
      );
    return value;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    if (withIssuers) {
      m2m = await TestIssuer.start(M2M_AUDIENCE);
      session = await TestIssuer.start(SESSION_AUDIENCE);
    }
  });

  afterAll(async () => {
    try {
      for (const check of checks) await check();
    } finally {
      for (const app of apps.reverse()) await app.close();
      await m2m?.stop();
      await session?.stop();
      for (const extra of databases.reverse()) await extra.drop();
      await db?.drop();
    }
  });

  const start = async (env: Env, opts: StartOptions): Promise<TestApp> => {
    const { db: on, ...boot } = opts;
    const app = await startTestApp(on ?? ready(db, 'db'), env, boot);
    apps.push(app);
    return app;
  };

  return {
    get db() {
      return ready(db, 'db');
    },
    get m2m() {
      return ready(m2m, 'm2m');
    },
    get session() {
      return ready(session, 'session');
    },
    boot(extraEnv: Env = {}, opts: StartOptions = {}) {
      return start({ ...internalEnv(ready(m2m, 'm2m'), ready(session, 'session')), ...extraEnv }, opts);
    },
    start(env: Env = {}, opts: StartOptions = {}) {
      return start(env, opts);
    },
    beforeTeardown(check: () => unknown) {
      checks.push(check);
    },
    async database() {
      const extra = await createTestDatabase();
      databases.push(extra);
      return extra;
    },
    async bootPair() {
      const a = await this.boot();
      const b = await this.boot();
      await eventually(
        () => a.app.get(ApiKeyRevocations).listening && b.app.get(ApiKeyRevocations).listening,
      );
      return [a, b];
    },
  };
}
