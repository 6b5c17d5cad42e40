import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { ApiKeyCache } from 'src/api-key-resolution/api-key-cache';
import { ApiKeyResolutionModule } from 'src/api-key-resolution/api-key-resolution.module';
import { ApiKeyResolutionService } from 'src/api-key-resolution/api-key-resolution.service';
import { ApiKeyRevocations, REVOCATION_CHANNEL } from 'src/api-keys/api-key-revocations';
import { hashApiKey, randomLookupId } from 'src/api-keys/api-key-format';
import { ApiKeysModule } from 'src/api-keys/api-keys.module';
import type { ProvisionApiKeyResponseDto } from 'src/api-keys/dto/provisioning.dto';
import { ProvisioningService } from 'src/api-keys/provisioning.service';
import { AuditModule } from 'src/audit/audit.module';
import {
  FEED_APPLICATION_NAME as LISTENER_APPLICATION_NAME,
  TRUST_WINDOW_MS,
} from 'src/database/revocation-feed';
import { startModules, type TestModules } from 'test/helpers/modules';
import { createTestDatabase, ListenerConnections, type TestDatabase } from 'test/helpers/database';
import { revokeApiKey } from 'test/helpers/factories';
import { eventually } from 'test/helpers/waiting';

jest.setTimeout(60_000);

const ORG = 'org-integration';
/** What a resolution of a key that does not resolve throws: the API's 401 `invalid_api_key`. */
const INVALID_API_KEY = { type: 'invalid_api_key', status: 401, message: 'Invalid API key.' };

/**
 * ApiKeyRevocations on a real database, as two instances of the modules: `writer` provisions and revokes
 * keys (it resolves them too), `reader` resolves them and caches the answers. The reader's listener
 * connects through sockets this file holds (ListenerConnections, the FEED_CLIENT_FACTORY hook), so a
 * test can terminate its backend or stall it without reaching into pg's or the listener's private fields.
 */
describe('the revocation listener', () => {
  let db: TestDatabase;
  let writer: TestModules;
  let reader: TestModules;
  const connections = new ListenerConnections();
  /** Every key this file minted: none may reach a log line. */
  const secrets: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    writer = await startModules(db, [AuditModule, ApiKeysModule, ApiKeyResolutionModule], {
      env: { PROVISION_ALLOWED_ORG_IDS: ORG },
    });
    reader = await startModules(db, [ApiKeyResolutionModule], { providers: [connections.provider] });
    await eventually(() => listening() && writer.moduleRef.get(ApiKeyRevocations).listening);
  });

  afterAll(async () => {
    for (const modules of [reader, writer]) expect(modules?.logs.leaked(secrets)).toEqual([]);
    await reader?.close();
    await writer?.close();
    await db?.drop();
  });

  const listening = (): boolean => reader.moduleRef.get(ApiKeyRevocations).listening;
  const cache = (): ApiKeyCache => reader.moduleRef.get(ApiKeyCache);
  /** The user `externalId`'s key, minted by the writer; provisioning again replaces (revokes) the last one. */
  const newKey = async (externalId: string): Promise<ProvisionApiKeyResponseDto> => {
    const key = await writer.moduleRef
      .get(ProvisioningService)
      .provision({ actor: 'm2m:integration', ip: null, requestId: null }, 'integration', {
        externalId,
        email: 'listener@example.com',
        orgId: ORG,
      });
    secrets.push(key.apiKey);
    return key;
  };
  /** What `instance` answers for `apiKey`: 'resolved', or the error it refuses it with. */
  const resolution = async (instance: TestModules, apiKey: string): Promise<unknown> => {
    try {
      await instance.moduleRef.get(ApiKeyResolutionService).resolve(apiKey, undefined, 'listener-test');
      return 'resolved';
    } catch (err) {
      const { type, status, message } = err as { type?: string; status?: number; message: string };
      return { type, status, message };
    }
  };
  /** Whether the reader would answer `apiKey` from its cache, without the database. */
  const servedFromCache = (apiKey: string): boolean => cache().get(hashApiKey(apiKey)) !== undefined;

  it('connects with its own application_name and listens', async () => {
    const pid = await connections.current.backendPid();
    const [row] = await db.query<{ application_name: string }>(
      'SELECT application_name FROM pg_stat_activity WHERE pid = $1',
      [pid],
    );
    expect(row?.application_name).toBe(LISTENER_APPLICATION_NAME);
    expect(listening()).toBe(true);
  });

  it('drops a cached key when another instance commits its revocation (NOTIFY), not when it rolls back', async () => {
    const kept = await newKey('notify-kept');
    const revoked = await newKey('notify-revoked');
    for (const key of [kept, revoked]) {
      expect(await resolution(reader, key.apiKey)).toBe('resolved');
      expect(servedFromCache(key.apiKey)).toBe(true);
    }
    // A revocation announced in a transaction that rolls back is never delivered.
    await writer.moduleRef
      .get(DataSource)
      .transaction(async (m) => {
        await writer.moduleRef.get(ApiKeyRevocations).notify([kept.keyId], m);
        throw new Error('roll back');
      })
      .catch(() => undefined);
    await revokeApiKey(writer.moduleRef, revoked.keyId);
    // Notifications arrive in commit order: once the committed one is applied, the rolled-back one would
    // have been too.
    await eventually(() => !servedFromCache(revoked.apiKey));
    expect(servedFromCache(kept.apiKey)).toBe(true);
    expect(await resolution(reader, revoked.apiKey)).toEqual(INVALID_API_KEY);
    expect(await resolution(reader, kept.apiKey)).toBe('resolved');
  });

  it('announces thousands of revoked key ids in payloads under the 8000-byte limit, on commit only', async () => {
    const listener = new Client({ connectionString: db.url });
    await listener.connect();
    const payloads: string[] = [];
    listener.on('notification', (msg) => {
      if (msg.channel === REVOCATION_CHANNEL && msg.payload) payloads.push(msg.payload);
    });
    await listener.query(`LISTEN ${REVOCATION_CHANNEL}`);
    try {
      const revocations = writer.moduleRef.get(ApiKeyRevocations);
      const dataSource = writer.moduleRef.get(DataSource);
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

  describe('a listener that stops receiving', () => {
    it('never serves a key revoked while its notification is still on the way: the barrier falls back to the database', async () => {
      const first = await newKey('in-flight');
      expect(await resolution(reader, first.apiKey)).toBe('resolved'); // cached on the reader
      const delayed = connections.current;
      delayed.stall(); // the revocation's NOTIFY (and every mark) sits in the socket for now
      try {
        await newKey('in-flight'); // replaces (revokes) `first`, committed before the next call arrives
        // The cache still holds `first` and the feed still counts as listening (within its trust window):
        // only the barrier stands between the cache and a revoked key.
        expect(servedFromCache(first.apiKey)).toBe(true);
        expect(await resolution(reader, first.apiKey)).toEqual(INVALID_API_KEY);
      } finally {
        delayed.resume();
      }
      await eventually(() => listening());
      expect(await resolution(reader, first.apiKey)).toEqual(INVALID_API_KEY);
    });

    it('stops trusting cached keys when heartbeats stop arriving (half-open socket)', async () => {
      const first = await newKey('half-open');
      expect(await resolution(reader, first.apiKey)).toBe('resolved'); // cached on the reader
      const stalled = connections.current;
      const opened = connections.count;
      const stalledAt = Date.now();
      stalled.stall();
      try {
        // No heartbeat gets through, and nothing tells the listener so: within the trust window the reader
        // stops serving positives from its cache, on the very same connection.
        await eventually(() => !listening(), 400);
        expect(Date.now() - stalledAt).toBeLessThan(TRUST_WINDOW_MS + 2_000);
        expect(connections.count).toBe(opened);
        expect(servedFromCache(first.apiKey)).toBe(false);
        await newKey('half-open'); // replaces (revokes) `first`, announced while the reader hears nothing
        expect(await resolution(reader, first.apiKey)).toEqual(INVALID_API_KEY);
      } finally {
        stalled.resume();
      }
      await eventually(() => listening(), 800);
      expect(await resolution(reader, first.apiKey)).toEqual(INVALID_API_KEY);
    });

    it('a terminated listener backend: the next call after a revocation is a 401, and the cache restarts empty', async () => {
      const first = await newKey('terminated-listener');
      expect(await resolution(reader, first.apiKey)).toBe('resolved');
      expect(await resolution(writer, first.apiKey)).toBe('resolved');
      expect(servedFromCache(first.apiKey)).toBe(true);
      const opened = connections.count;
      const pid = await connections.current.backendPid();
      const [row] = await db.query<{ application_name: string }>(
        'SELECT application_name FROM pg_stat_activity WHERE pid = $1',
        [pid],
      );
      expect(row?.application_name).toBe('keysmith-revocation-listener');
      await db.query('SELECT pg_terminate_backend($1)', [pid]);
      // The loss is noticed at once: nothing cached is served, and the cache is dropped.
      await eventually(() => !listening());
      expect(servedFromCache(first.apiKey)).toBe(false);
      expect(cache().size).toBe(0);
      await newKey('terminated-listener'); // revokes `first` on the writer
      expect(await resolution(reader, first.apiKey)).toEqual(INVALID_API_KEY);
      expect(await resolution(writer, first.apiKey)).toEqual(INVALID_API_KEY);
      await eventually(() => listening(), 800);
      expect(connections.count).toBe(opened + 1);
      expect(reader.logs.text()).toContain('revocation listener lost its connection');
      expect(await resolution(reader, first.apiKey)).toEqual(INVALID_API_KEY);

      // The new connection delivers revocations.
      const second = await newKey('after-reconnect');
      expect(await resolution(reader, second.apiKey)).toBe('resolved');
      await revokeApiKey(writer.moduleRef, second.keyId);
      await eventually(() => !servedFromCache(second.apiKey));
      expect(await resolution(reader, second.apiKey)).toEqual(INVALID_API_KEY);
    });
  });
});
