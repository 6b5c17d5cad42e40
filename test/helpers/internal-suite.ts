import { ApiKeyRevocations } from 'src/api-key-resolution/api-key-revocations';
import type { Env } from 'src/config/env-reader';
import { startTestApp, type TestApp } from 'test/helpers/app';
import { createTestDatabase, type TestDatabase } from 'test/helpers/database';
import { TestIssuer } from 'test/helpers/issuer';
import { eventually, internalEnv, M2M_AUDIENCE, SESSION_AUDIENCE } from 'test/helpers/m2m';

/** Handles filled by the suite's `beforeAll`; read them inside hooks and tests only. */
export interface InternalSuite {
  readonly db: TestDatabase;
  readonly m2m: TestIssuer;
  readonly session: TestIssuer;
  /** Boots an app with `internalEnv` (plus `extraEnv`); the suite closes it in its `afterAll`. */
  boot(extraEnv?: Env): Promise<TestApp>;
  /**
   * Two instances on the one database, as behind a load balancer, once both revocation listeners are up
   * (so both cache, and must invalidate, positive answers).
   */
  bootPair(): Promise<[TestApp, TestApp]>;
}

/**
 * Registers the `beforeAll`/`afterAll` every internal-surface suite repeats: one database, an M2M and a
 * session issuer, and teardown of every app booted through `boot` (last booted, first closed). Call it at
 * the top of a `describe`; the suite's own `afterAll` hooks run after this teardown (declaration order).
 */
export function internalSuite(): InternalSuite {
  let db: TestDatabase | undefined;
  let m2m: TestIssuer | undefined;
  let session: TestIssuer | undefined;
  const apps: TestApp[] = [];
  const ready = <T>(value: T | undefined, name: string): T => {
    if (value === undefined)
      throw new Error(`internalSuite: ${name} is not ready (use it inside hooks or tests)`);
    return value;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    m2m = await TestIssuer.start(M2M_AUDIENCE);
    session = await TestIssuer.start(SESSION_AUDIENCE);
  });

  afterAll(async () => {
    for (const app of apps.reverse()) await app.close();
    await m2m?.stop();
    await session?.stop();
    await db?.drop();
  });

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
    async boot(extraEnv: Env = {}) {
      const app = await startTestApp(ready(db, 'db'), {
        ...internalEnv(ready(m2m, 'm2m'), ready(session, 'session')),
        ...extraEnv,
      });
      apps.push(app);
      return app;
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
