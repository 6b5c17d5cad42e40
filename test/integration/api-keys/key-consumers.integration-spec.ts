import { writeKeyUses } from 'src/api-key-resolution/api-key-usage-recorder';
import { KeyUsageBuffer } from 'src/api-key-resolution/key-usage-buffer';
import { ApiKeyConsumersRepository, MAX_CONSUMERS_PER_KEY } from 'src/api-keys/api-key-consumers.repository';
import { ApiKeysModule } from 'src/api-keys/api-keys.module';
import { ApiKeysRepository } from 'src/api-keys/api-keys.repository';
import { consumersOf as consumersOf_, REPORTED_CONSUMERS_PER_KEY } from 'src/offboarding/consumers';
import { AuditModule } from 'src/audit/audit.module';
import { createTestDatabase, type TestDatabase } from 'test/helpers/database';
import { apiKey } from 'test/helpers/factories';
import { startModules, type TestModules } from 'test/helpers/modules';

jest.setTimeout(60_000);

/** Far enough apart that lastUsedAt's one-minute precision never merges two of them. */
const STEP_MS = 61_000;
const BASE = Date.parse('2030-01-01T00:00:00Z');

interface ConsumerRow {
  client_id: string;
  first_resolved_at: Date;
  last_resolved_at: Date;
}

/**
 * The usage recorder's writes on a real database: two recorders (two instances) flushing at once, in any
 * order, never lose a consumer and never move a first time later or a last time earlier; the cap on
 * consumers per key keeps the most recent.
 */
describe('API key consumers: the recorder’s upsert', () => {
  let db: TestDatabase;
  let modules: TestModules;
  const secrets: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    modules = await startModules(db, [AuditModule, ApiKeysModule]);
  });

  afterAll(async () => {
    expect(modules?.logs.leaked(secrets)).toEqual([]);
    await modules?.close();
    await db?.drop();
  });

  const mint = async (sub: string): Promise<string> => {
    const { key, secret } = await apiKey(modules.moduleRef, sub);
    secrets.push(secret);
    return key.id;
  };
  /** A recorder of its own (an instance), on a clock the test sets, writing through the real repositories. */
  const instance = () => {
    const clock = { now: BASE };
    const buffer = new KeyUsageBuffer({
      precisionMs: 60_000,
      flushDelayMs: 60_000,
      maxPending: 10_000,
      now: () => clock.now,
      write: (uses) =>
        writeKeyUses(
          modules.moduleRef.get(ApiKeysRepository),
          modules.moduleRef.get(ApiKeyConsumersRepository),
          uses,
        ),
    });
    return {
      /** Records a resolve of `id` by `client` at `at`. */
      at: (at: number, id: string, client: string | null): void => {
        clock.now = at;
        buffer.record(id, client);
      },
      flush: () => buffer.flush(),
    };
  };
  const consumersOf = (id: string): Promise<ConsumerRow[]> =>
    db.query<ConsumerRow>(
      `SELECT client_id, first_resolved_at, last_resolved_at FROM api_key_consumers
        WHERE key_id = $1 ORDER BY client_id`,
      [id],
    );
  const lastUse = async (id: string): Promise<{ last_used_at: Date | null; last_used_by: string | null }> =>
    (
      await db.query<{ last_used_at: Date | null; last_used_by: string | null }>(
        'SELECT last_used_at, last_used_by FROM api_keys WHERE id = $1',
        [id],
      )
    )[0]!;

  it('concurrent flushes of two instances keep the earliest first and the latest last time of each client', async () => {
    const id = await mint('consumers-concurrent');
    const clients = ['gateway', 'billing', 'search'];
    const expected = new Map<string, { first: number; last: number }>();
    let latest = { at: 0, client: '' };
    // Distinct times in a random order: later rounds write earlier times as often as later ones.
    const times = Array.from({ length: 60 }, (_, i) => BASE + i * STEP_MS).sort(() => Math.random() - 0.5);
    for (let round = 0; round < 10; round++) {
      // Two instances, three uses each (in time order on each instance's clock), flushed at the same time.
      const pair = [instance(), instance()] as const;
      for (const [n, one] of pair.entries()) {
        const mine = times.slice(round * 6 + n * 3, round * 6 + n * 3 + 3).sort((x, y) => x - y);
        for (const [i, at] of mine.entries()) {
          const client = clients[(round + n + i) % clients.length]!;
          one.at(at, id, client);
          const seen = expected.get(client);
          expected.set(client, {
            first: Math.min(seen?.first ?? Infinity, at),
            last: Math.max(seen?.last ?? -Infinity, at),
          });
          if (at > latest.at) latest = { at, client };
        }
      }
      await Promise.all(pair.map((one) => one.flush()));
    }

    expect(
      (await consumersOf(id)).map((r) => [
        r.client_id,
        r.first_resolved_at.getTime(),
        r.last_resolved_at.getTime(),
      ]),
    ).toEqual(
      [...expected.entries()]
        .sort(([x], [y]) => (x < y ? -1 : 1))
        .map(([client, { first, last }]) => [client, first, last]),
    );
    const use = await lastUse(id);
    expect(use.last_used_at?.getTime()).toBe(latest.at);
    expect(use.last_used_by).toBe(latest.client);
  });

  it('an older flush arriving late moves nothing back', async () => {
    const id = await mint('consumers-late');
    const fast = instance();
    const slow = instance();
    fast.at(BASE + 10 * STEP_MS, id, 'gateway');
    await fast.flush();
    slow.at(BASE + 5 * STEP_MS, id, 'billing');
    slow.at(BASE + 2 * STEP_MS, id, 'gateway');
    slow.at(BASE + 3 * STEP_MS, id, 'gateway');
    // Before fast's first use of gateway: widens gateway's first time, and nothing else.
    await slow.flush();
    expect(
      (await consumersOf(id)).map((r) => [
        r.client_id,
        r.first_resolved_at.getTime() - BASE,
        r.last_resolved_at.getTime() - BASE,
      ]),
    ).toEqual([
      ['billing', 5 * STEP_MS, 5 * STEP_MS],
      ['gateway', 2 * STEP_MS, 10 * STEP_MS],
    ]);
    expect(await lastUse(id)).toEqual({
      last_used_at: new Date(BASE + 10 * STEP_MS),
      last_used_by: 'gateway',
    });
  });

  it('a use that is not a resolve moves lastUsedAt and keeps the client of the last resolve', async () => {
    const id = await mint('consumers-verify');
    const one = instance();
    one.at(BASE, id, 'gateway');
    await one.flush();
    one.at(BASE + STEP_MS, id, null);
    await one.flush();
    expect(await lastUse(id)).toEqual({ last_used_at: new Date(BASE + STEP_MS), last_used_by: 'gateway' });
    expect((await consumersOf(id)).map((r) => r.client_id)).toEqual(['gateway']);
  });

  it(`keeps the ${MAX_CONSUMERS_PER_KEY} most recently seen consumers of a key`, async () => {
    const id = await mint('consumers-cap');
    const other = await mint('consumers-cap-other');
    const one = instance();
    const count = MAX_CONSUMERS_PER_KEY + 5;
    // client-000 is the oldest; the 5 oldest are the ones to go.
    for (let i = 0; i < count; i++) one.at(BASE + i * STEP_MS, id, `client-${String(i).padStart(3, '0')}`);
    one.at(BASE, other, 'client-000');
    await one.flush();
    const kept = (await consumersOf(id)).map((r) => r.client_id);
    expect(kept).toHaveLength(MAX_CONSUMERS_PER_KEY);
    expect(kept[0]).toBe('client-005');
    expect(kept.at(-1)).toBe(`client-${count - 1}`);
    // Another key's consumers are not touched.
    expect((await consumersOf(other)).map((r) => r.client_id)).toEqual(['client-000']);
    // A consumer seen again comes back as the most recent, evicting the oldest kept.
    one.at(BASE + count * STEP_MS, id, 'client-000');
    await one.flush();
    const after = (await consumersOf(id)).map((r) => r.client_id);
    expect(after).toHaveLength(MAX_CONSUMERS_PER_KEY);
    expect(after).toContain('client-000');
    expect(after).not.toContain('client-005');
  });

  it('a key deleted before the flush is skipped; the others are written', async () => {
    const gone = await mint('consumers-gone');
    const kept = await mint('consumers-kept');
    const one = instance();
    one.at(BASE, gone, 'gateway');
    one.at(BASE, kept, 'gateway');
    await db.query('DELETE FROM api_keys WHERE id = $1', [gone]);
    await one.flush();
    expect(await consumersOf(gone)).toEqual([]);
    expect((await consumersOf(kept)).map((r) => r.client_id)).toEqual(['gateway']);
    expect(modules.logs.text()).not.toContain('could not record');
  });

  it('the consumers go with their key', async () => {
    const id = await mint('consumers-cascade');
    const one = instance();
    one.at(BASE, id, 'gateway');
    await one.flush();
    await db.query('DELETE FROM api_keys WHERE id = $1', [id]);
    expect(await consumersOf(id)).toEqual([]);
  });

  it('recentOfMany: the most recent consumers of every key asked for, at most `limit` each', async () => {
    const crowded = await mint('consumers-many-crowded');
    const pair = await mint('consumers-many-pair');
    const none = await mint('consumers-many-none');
    const one = instance();
    for (let i = 0; i < 25; i++) one.at(BASE + i * STEP_MS, crowded, `client-${String(i).padStart(2, '0')}`);
    one.at(BASE, pair, 'gateway');
    one.at(BASE + STEP_MS, pair, 'billing');
    await one.flush();
    const repository = modules.moduleRef.get(ApiKeyConsumersRepository);
    const rows = await repository.recentOfMany([crowded, pair, none], REPORTED_CONSUMERS_PER_KEY);
    const of = (id: string) => rows.filter((r) => r.keyId === id).map((r) => r.clientId);
    // The 20 latest of 25, most recent first.
    expect(of(crowded)).toEqual(
      Array.from({ length: 20 }, (_, i) => `client-${String(24 - i).padStart(2, '0')}`),
    );
    expect(of(pair)).toEqual(['billing', 'gateway']);
    expect(of(none)).toEqual([]);
    expect(await repository.recentOfMany([], 20)).toEqual([]);

    const byKey = await consumersOf_(repository, [pair, none]);
    expect(byKey.get(none)).toEqual([]);
    expect(byKey.get(pair)).toEqual([
      {
        clientId: 'billing',
        firstResolvedAt: new Date(BASE + STEP_MS).toISOString(),
        lastResolvedAt: new Date(BASE + STEP_MS).toISOString(),
      },
      {
        clientId: 'gateway',
        firstResolvedAt: new Date(BASE).toISOString(),
        lastResolvedAt: new Date(BASE).toISOString(),
      },
    ]);
  });
});
