import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const tmp = globalThis.__KEYSMITH_TEST_TMP__;
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  const pg = globalThis.__KEYSMITH_TEST_PG__;
  if (!pg) return;
  await pg.stop();
  rmSync(pg.dataDir, { recursive: true, force: true });
}
