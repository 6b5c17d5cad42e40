import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { generateApiKey } from 'src/api-keys/api-key-format';
import { ApiKeyRevocations } from 'src/api-keys/api-key-revocations';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import type { TestDatabase } from 'test/helpers/database';
import { m2mToken, type TestIssuer } from 'test/helpers/issuers';
import { eventually } from 'test/helpers/waiting';
import { provision, type Provisioned } from 'test/helpers/factories';
import { resolveKey } from 'test/helpers/http';

/**
 * The database really goes away (connections to this file's database are refused and the existing ones
 * terminated, then it comes back) or stops answering (a lock holds the table). No mocks.
 */
describe('resolving while the database is unavailable or unresponsive', () => {
  const suite = e2eSuite();
  let db: TestDatabase;
  let m2m: TestIssuer;
  let t: TestApp;
  let resolver: string;
  let provisioner: string;
  let cached: Provisioned;
  let uncached: Provisioned;
  const secrets: string[] = [];

  const unavailable = {
    error: {
      type: 'key_resolution_unavailable',
      status: 503,
      message: expect.any(String) as unknown,
    },
  };

  beforeAll(async () => {
    ({ db, m2m } = suite);
    t = await suite.boot();
    provisioner = await m2mToken(m2m, 'provisioner', 'provision:apikey');
    resolver = await m2mToken(m2m, 'gateway', 'apikeys:resolve');
    cached = await provision(t.http, provisioner, { externalId: 'outage-cached' });
    uncached = await provision(t.http, provisioner, { externalId: 'outage-uncached' });
    await eventually(() => t.app.get(ApiKeyRevocations).listening);
    await resolveKey(t.http, resolver, cached.apiKey).expect(200);
  });

  afterAll(async () => {
    expect(t.logs.leaked([cached.apiKey, uncached.apiKey, ...secrets])).toEqual([]);
  });

  const newKey = async (externalId: string): Promise<Provisioned> => {
    const p = await provision(t.http, provisioner, { externalId });
    secrets.push(p.apiKey);
    return p;
  };

  it('answers 503 key_resolution_unavailable with Retry-After, never a 500, then recovers', async () => {
    const outage = await db.outage();
    try {
      const res = await resolveKey(t.http, resolver, uncached.apiKey);
      expect(res.status).toBe(503);
      expect(res.body).toEqual(unavailable);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);

      // A key that cannot be well-formed is refused without the database.
      await resolveKey(t.http, resolver, 'ksk_not-a-key').expect(401);

      // With the revocation feed lost, cached positives are not trusted: a revocation could be missed.
      await eventually(() => !t.app.get(ApiKeyRevocations).listening);
      const fromCache = await resolveKey(t.http, resolver, cached.apiKey);
      expect(fromCache.status).toBe(503);
      expect(fromCache.headers['retry-after']).toBeDefined();

      // An unknown (well-formed) key is also a 503: without the database nothing is known about it.
      await resolveKey(t.http, resolver, generateApiKey().plaintext).expect(503);
    } finally {
      await outage.restore();
    }

    // The outage was never cached as a refusal: both keys resolve as soon as the database is back.
    await resolveKey(t.http, resolver, uncached.apiKey).expect(200);
    await resolveKey(t.http, resolver, cached.apiKey).expect(200);
    await eventually(() => t.app.get(ApiKeyRevocations).listening, 600);
  });

  describe('an unresponsive database', () => {
    it('answers 503 key_resolution_unavailable with Retry-After instead of hanging', async () => {
      const key = await newKey('locked-out');
      const locker = new Client({ connectionString: db.url });
      await locker.connect();
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
        const started = Date.now();
        const res = await resolveKey(t.http, resolver, key.apiKey).timeout(8_000);
        expect(res.status).toBe(503);
        expect((res.body as { error: { type: string } }).error.type).toBe('key_resolution_unavailable');
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        expect(Date.now() - started).toBeLessThan(8_000);
      } finally {
        await locker.query('ROLLBACK');
        await locker.end();
      }
      await resolveKey(t.http, resolver, key.apiKey).expect(200);
    });

    it('caps every statement at the pool’s statement_timeout', async () => {
      const [row] = await t.app
        .get(DataSource)
        .query<{ statement_timeout: string }[]>('SHOW statement_timeout');
      expect(row?.statement_timeout).toBe('10s');
    });
  });
});
