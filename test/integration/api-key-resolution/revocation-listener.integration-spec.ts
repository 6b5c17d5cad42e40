import { DataSource } from 'typeorm';
import { ApiKeyCache, TRUST_WINDOW_MS } from 'src/api-key-resolution/api-key-cache';
import { ApiKeyResolutionModule } from 'src/api-key-resolution/api-key-resolution.module';
import { ApiKeyResolutionService } from 'src/api-key-resolution/api-key-resolution.service';
import { ApiKeyRevocations, LISTENER_APPLICATION_NAME } from 'src/api-key-resolution/api-key-revocations';
import { hashApiKey } from 'src/api-keys/api-key-format';
import { ApiKeysModule } from 'src/api-keys/api-keys.module';
import { ProvisioningService } from 'src/api-keys/provisioning.service';
import { AuditModule } from 'src/audit/audit.module';
import { ApiError } from 'src/errors/api-error';
import { startModules, type TestModules } from 'test/helpers/app';
import { createTestDatabase, ListenerConnections, type TestDatabase } from 'test/helpers/database';
import { revokeApiKey } from 'test/helpers/factories';
import { eventually } from 'test/helpers/waiting';

jest.setTimeout(60_000);

const ORG = 'org-integration';

/**
 * ApiKeyRevocations on a real database, as two instances: `writer` provisions and revokes keys, `reader`
 * resolves them and caches the answers. The reader's listener connects through sockets this file holds
 * (ListenerConnections, the LISTENER_CLIENT_FACTORY hook), so a test can terminate its backend or stall it.
 */
describe('the revocation listener', () => {
  let db: TestDatabase;
  let writer: TestModules;
  let reader: TestModules;
  const connections = new ListenerConnections();
  let n = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    writer = await startModules(db, [AuditModule, ApiKeysModule], {
      env: { PROVISION_ALLOWED_ORG_IDS: ORG },
    });
    reader = await startModules(db, [ApiKeyResolutionModule], { providers: [connections.provider] });
    await eventually(() => listening());
  });

  afterAll(async () => {
    await reader?.close();
    await writer?.close();
    await db?.drop();
  });

  const listening = (): boolean => reader.moduleRef.get(ApiKeyRevocations).listening;
  const cache = (): ApiKeyCache => reader.moduleRef.get(ApiKeyCache);
  /** A new live key (a user of its own), minted by the writer. */
  const newKey = async (): Promise<{ apiKey: string; keyId: string }> =>
    writer.moduleRef.get(ProvisioningService).provision(
      { actor: 'm2m:integration', ip: null, requestId: null },
      {
        externalId: `listener-user-${++n}`,
        email: 'listener@example.com',
        orgId: ORG,
      },
    );
  /** Resolves `apiKey` on the reader: true when it resolves, false when it is refused as invalid. */
  const resolvesOnReader = async (apiKey: string): Promise<boolean> => {
    try {
      await reader.moduleRef.get(ApiKeyResolutionService).resolve(apiKey);
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.type === 'invalid_api_key') return false;
      throw err;
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
    const kept = await newKey();
    const revoked = await newKey();
    for (const key of [kept, revoked]) {
      expect(await resolvesOnReader(key.apiKey)).toBe(true);
      expect(servedFromCache(key.apiKey)).toBe(true);
    }
    // A revocation announced in a transaction that rolls back is never delivered.
    const dataSource = writer.moduleRef.get(DataSource);
    await dataSource
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
    expect(await resolvesOnReader(revoked.apiKey)).toBe(false);
    expect(await resolvesOnReader(kept.apiKey)).toBe(true);
  });

  it('a lost connection (its backend terminated): stops serving cached keys at once, reconnects, and starts from an empty cache', async () => {
    const key = await newKey();
    expect(await resolvesOnReader(key.apiKey)).toBe(true);
    expect(servedFromCache(key.apiKey)).toBe(true);
    const opened = connections.count;
    await db.query('SELECT pg_terminate_backend($1)', [await connections.current.backendPid()]);

    await eventually(() => !listening());
    expect(servedFromCache(key.apiKey)).toBe(false);
    expect(cache().size).toBe(0);
    await eventually(() => listening(), 400);
    expect(connections.count).toBe(opened + 1);
    expect(cache().size).toBe(0);
    expect(reader.logs.text()).toContain('revocation listener lost its connection');

    // The new connection delivers revocations.
    expect(await resolvesOnReader(key.apiKey)).toBe(true);
    await revokeApiKey(writer.moduleRef, key.keyId);
    await eventually(() => !servedFromCache(key.apiKey));
    expect(await resolvesOnReader(key.apiKey)).toBe(false);
  });

  it('heartbeats that stop arriving (a half-open connection): positives are distrusted within the trust window, then the connection is replaced', async () => {
    const key = await newKey();
    expect(await resolvesOnReader(key.apiKey)).toBe(true);
    const stalled = connections.current;
    const opened = connections.count;
    const stalledAt = Date.now();
    stalled.stall();
    try {
      // Nothing reaches the listener, and nothing tells it so: only the heartbeat's age gives it away.
      await eventually(() => !listening(), 400);
      expect(Date.now() - stalledAt).toBeLessThan(TRUST_WINDOW_MS + 2_000);
      expect(connections.count).toBe(opened);
      expect(servedFromCache(key.apiKey)).toBe(false);

      // Stalled for good: the connection is given up and a new one opened; the cache starts empty.
      await eventually(() => connections.count === opened + 1 && listening(), 600);
      expect(cache().size).toBe(0);
      expect(reader.logs.text()).toMatch(/no heartbeat for \d+ ms/);
    } finally {
      stalled.resume();
    }
    expect(await resolvesOnReader(key.apiKey)).toBe(true);
    expect(servedFromCache(key.apiKey)).toBe(true);
  });
});
