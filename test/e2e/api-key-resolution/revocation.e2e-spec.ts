import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { randomLookupId } from 'src/api-keys/api-key-format';
import { ApiKeyRevocations, REVOCATION_CHANNEL } from 'src/api-key-resolution/api-key-revocations';
import { internalSuite, type TestApp } from 'test/helpers/app';
import { ListenerConnections, type TestDatabase } from 'test/helpers/database';
import { provision, type Provisioned } from 'test/helpers/factories';
import { INVALID_API_KEY, resolveKey } from 'test/helpers/http';
import { m2mToken, type TestIssuer } from 'test/helpers/issuers';
import { eventually } from 'test/helpers/waiting';

jest.setTimeout(60_000);

/**
 * Each instance caches resolutions; a revocation reaches every instance's cache through PostgreSQL NOTIFY
 * (ApiKeyRevocations), and an instance that may have missed one stops trusting its cache. Two instances on
 * one database; the second one's revocation listener connects through sockets this file holds
 * (`ListenerConnections`), so a test can break them the way a network does.
 */
describe('a revoked key fails on the very next call, on every instance', () => {
  const suite = internalSuite();
  const listenerOfB = new ListenerConnections();
  let db: TestDatabase;
  let m2m: TestIssuer;
  let session: TestIssuer;
  let a: TestApp;
  let b: TestApp;
  let provisioner: string;
  let resolver: string;
  const secrets: string[] = [];

  beforeAll(async () => {
    ({ db, m2m, session } = suite);
    [a, b] = await suite.bootPair({ second: { providers: [listenerOfB.provider] } });
    provisioner = await m2mToken(m2m, 'provisioner', 'provision:apikey');
    resolver = await m2mToken(m2m, 'gateway', 'apikeys:resolve');
  });

  afterAll(async () => {
    // Every app of the file logs into one capture (test/helpers/app.ts).
    expect(a.logs.leaked(secrets)).toEqual([]);
  });

  const newKey = async (externalId: string): Promise<Provisioned> => {
    const p = await provision(a.http, provisioner, { externalId });
    secrets.push(p.apiKey);
    return p;
  };

  it('a key revoked through the developer surface right after a cached success fails on the next call, on both instances', async () => {
    const key = await newKey('res-dev-revoke');
    // Warm both caches.
    await resolveKey(a.http, resolver, key.apiKey).expect(200);
    await resolveKey(b.http, resolver, key.apiKey).expect(200);
    await resolveKey(b.http, resolver, key.apiKey).expect(200);

    const sessionToken = await session.token({ sub: 'res-dev-revoke' });
    const list = await request(a.http)
      .get('/api/v1/developer/keys')
      .set('authorization', `Bearer ${sessionToken}`)
      .expect(200);
    const id = (list.body as { keys: { id: string }[] }).keys[0]!.id;
    await request(a.http)
      .delete(`/api/v1/developer/keys/${id}`)
      .set('authorization', `Bearer ${sessionToken}`)
      .expect(200);

    await resolveKey(a.http, resolver, key.apiKey).expect(401, INVALID_API_KEY);
    await resolveKey(b.http, resolver, key.apiKey).expect(401, INVALID_API_KEY);
  });

  it('a key replaced by provisioning on one instance fails on the next call on the other', async () => {
    const first = await newKey('res-replace');
    await resolveKey(b.http, resolver, first.apiKey).expect(200);
    await resolveKey(b.http, resolver, first.apiKey).expect(200);
    const second = await newKey('res-replace');
    await resolveKey(b.http, resolver, first.apiKey).expect(401, INVALID_API_KEY);
    await resolveKey(b.http, resolver, second.apiKey).expect(200);
  });

  describe('a listener that stops receiving', () => {
    it('stops trusting cached keys when heartbeats stop arriving (half-open socket)', async () => {
      const first = await newKey('half-open');
      await resolveKey(b.http, resolver, first.apiKey).expect(200); // cached on b
      const connection = listenerOfB.current;
      connection.stall();
      try {
        // No heartbeat gets through: within the trust window b stops serving positives from its cache.
        await eventually(() => !b.app.get(ApiKeyRevocations).listening, 400);
        await newKey('half-open'); // replaces (revokes) `first`, announced while b hears nothing
        await resolveKey(b.http, resolver, first.apiKey).expect(401, INVALID_API_KEY);
      } finally {
        connection.resume();
      }
      await eventually(() => b.app.get(ApiKeyRevocations).listening, 800);
      await resolveKey(b.http, resolver, first.apiKey).expect(401, INVALID_API_KEY);
    });

    it('a terminated listener backend: the next call after a revocation is a 401, and the cache restarts empty', async () => {
      const first = await newKey('terminated-listener');
      await resolveKey(b.http, resolver, first.apiKey).expect(200);
      await resolveKey(a.http, resolver, first.apiKey).expect(200);
      const pid = await listenerOfB.current.backendPid();
      const [row] = await db.query<{ application_name: string }>(
        'SELECT application_name FROM pg_stat_activity WHERE pid = $1',
        [pid],
      );
      expect(row?.application_name).toBe('keysmith-revocation-listener');
      await db.query('SELECT pg_terminate_backend($1)', [pid]);
      await newKey('terminated-listener'); // revokes `first` on a
      await resolveKey(b.http, resolver, first.apiKey).expect(401, INVALID_API_KEY);
      await resolveKey(a.http, resolver, first.apiKey).expect(401, INVALID_API_KEY);
      await eventually(() => b.app.get(ApiKeyRevocations).listening, 800);
      await resolveKey(b.http, resolver, first.apiKey).expect(401, INVALID_API_KEY);
    });
  });

  describe('NOTIFY chunking', () => {
    it('announces thousands of revoked key ids in payloads under the 8000-byte limit, on commit only', async () => {
      const listener = new Client({ connectionString: db.url });
      await listener.connect();
      const payloads: string[] = [];
      listener.on('notification', (msg) => {
        if (msg.channel === REVOCATION_CHANNEL && msg.payload) payloads.push(msg.payload);
      });
      await listener.query(`LISTEN ${REVOCATION_CHANNEL}`);
      try {
        const revocations = a.app.get(ApiKeyRevocations);
        const dataSource = a.app.get(DataSource);
        const ids = Array.from({ length: 1_500 }, () => randomLookupId());
        const rolledBack = ['deadbeefdeadbeef'];
        await dataSource
          .transaction(async (manager) => {
            await revocations.notify(rolledBack, manager);
            throw new Error('roll back');
          })
          .catch(() => undefined);
        await dataSource.transaction((manager) => revocations.notify(ids, manager));
        // A marker sent afterwards: once it arrives, everything before it has.
        await db.query(`SELECT pg_notify($1, 'ffffffffffffffff')`, [REVOCATION_CHANNEL]);
        await eventually(() => payloads.includes('ffffffffffffffff'));
        const chunks = payloads.filter((p) => p !== 'ffffffffffffffff');
        expect(chunks.length).toBeGreaterThanOrEqual(4);
        for (const chunk of chunks) expect(Buffer.byteLength(chunk)).toBeLessThan(8_000);
        expect(chunks.flatMap((c) => c.split(','))).toEqual(ids);
      } finally {
        await listener.end();
      }
    });
  });
});
