import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { ApiKeyRevocations } from 'src/api-keys/api-key-revocations';
import { parseApiKey } from 'src/api-keys/api-key-format';
import { KeyUsageCounters } from 'src/key-usage/key-usage-counters';
import { KeyUsageRepository } from 'src/key-usage/key-usage.repository';
import { usageJson } from 'src/key-usage/usage-json';
import { SWEEP_LOCK_KEY, UsageRetention } from 'src/key-usage/usage-retention';
import { OrgTokensService } from 'src/org-tokens/org-tokens.service';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { disableUser, expireApiKey, mintDeveloperKey, mintOrgToken } from 'test/helpers/factories';
import { FULL_ADMIN_TOKEN, fullEnv } from 'test/helpers/full-app';
import { m2mToken, sessionBearer } from 'test/helpers/issuers';
import { eventually } from 'test/helpers/waiting';

const KEYS = '/api/v1/developer/keys';
const USAGE = '/api/v1/developer/keys/usage';
const ADMIN_USAGE = '/api/v1/admin/usage';
const ADMIN = `Bearer ${FULL_ADMIN_TOKEN}`;
const HOUR = 3_600_000;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

interface Bucket {
  start: string;
  valid: number;
  refused: number;
}
interface KeyUsage {
  keyId: string;
  valid: number;
  refused: number;
  buckets: Bucket[];
}

/**
 * Usage (issue 23): every resolve of an existing key is counted per key, hour and outcome on each instance,
 * and the counts of several instances add up in `api_key_usage`; developers read their keys' counts, admins
 * one user's. Two instances share the database, as behind a load balancer.
 */
describe('API key usage', () => {
  const suite = e2eSuite();
  let a: TestApp;
  let b: TestApp;
  let resolver: string;
  const secrets: string[] = [FULL_ADMIN_TOKEN];

  beforeAll(async () => {
    a = await suite.boot(fullEnv(suite.m2m, suite.session));
    b = await suite.boot(fullEnv(suite.m2m, suite.session));
    await eventually(() => a.app.get(ApiKeyRevocations).listening && b.app.get(ApiKeyRevocations).listening);
    resolver = await m2mToken(suite.m2m, 'usage-client', 'apikeys:resolve');
  });

  suite.beforeTeardown(async () => {
    await a.app.get(OrgTokensService).settle();
    expect(a.logs.leaked(secrets)).toEqual([]);
  });

  const mint = async (sub: string, body: object = {}): Promise<{ id: string; secret: string }> => {
    const { key, secret } = await mintDeveloperKey(a.http, await sessionBearer(suite.session, sub), body);
    secrets.push(secret);
    return { id: key.id, secret };
  };
  const resolve = (on: TestApp, key: string, status: number, requiredScopes?: string[]): request.Test =>
    request(on.http)
      .post('/api/v1/internal/api-keys/resolve')
      .set('authorization', `Bearer ${resolver}`)
      .send(requiredScopes ? { key, requiredScopes } : { key })
      .expect(status);
  const times = async (n: number, call: () => PromiseLike<unknown>): Promise<void> => {
    for (let i = 0; i < n; i++) await call();
  };
  const flush = (...apps: TestApp[]): Promise<unknown> =>
    Promise.all(apps.map((app) => app.app.get(KeyUsageCounters).flush()));
  const usageOf = async (
    sub: string,
    query: Record<string, string>,
    on: TestApp = a,
  ): Promise<KeyUsage[]> => {
    const res = await request(on.http)
      .get(USAGE)
      .query(query)
      .set('authorization', await sessionBearer(suite.session, sub));
    expect(res.status).toBe(200);
    return (res.body as { usage: KeyUsage[] }).usage;
  };
  const stored = async (ids: string[]): Promise<Record<string, { valid: number; refused: number }>> => {
    const rows = await suite.db.query<{ id: string; valid: string; refused: string }>(
      `SELECT api_key_id AS id, sum(valid) AS valid, sum(refused) AS refused FROM api_key_usage
        WHERE api_key_id = ANY($1::uuid[]) GROUP BY api_key_id`,
      [ids],
    );
    return Object.fromEntries(
      rows.map((r) => [r.id, { valid: Number(r.valid), refused: Number(r.refused) }]),
    );
  };
  const totals = (usage: KeyUsage[]) =>
    Object.fromEntries(usage.map((u) => [u.keyId, { valid: u.valid, refused: u.refused }]));

  describe('counting', () => {
    let live: { id: string; secret: string };
    let revoked: { id: string; secret: string };
    let expired: { id: string; secret: string };
    let off: { id: string; secret: string };
    let carols: { id: string; secret: string };

    beforeAll(async () => {
      live = await mint('alice', { scopes: ['orders:read'] });
      revoked = await mint('alice');
      expired = await mint('alice');
      off = await mint('alice');
      carols = await mint('carol');
      await expireApiKey(suite.db, parseApiKey(expired.secret)!.keyId);
      await request(a.http)
        .patch(`${KEYS}/${off.id}`)
        .set('authorization', await sessionBearer(suite.session, 'alice'))
        .send({ enabled: false })
        .expect(200);
      await disableUser(suite.db, { externalId: 'carol' });
    });

    it('adds up exactly the valid and refused resolves of existing keys seen by two instances', async () => {
      const window = {
        from: new Date(Date.now() - HOUR).toISOString(),
        to: new Date(Date.now() + HOUR).toISOString(),
      };
      // Instance a: the live key answered 3 times, refused twice for a scope it lacks.
      await times(3, () => resolve(a, live.secret, 200));
      await times(2, () => resolve(a, live.secret, 403, ['orders:write']));
      // Not counted: they name no key the caller holds (a wrong secret, an unknown key, a malformed one).
      const keyId = parseApiKey(live.secret)!.keyId;
      await times(2, () => resolve(a, `ksk_${keyId}_${'0'.repeat(64)}`, 401));
      await resolve(a, `ksk_${'f'.repeat(16)}_${'0'.repeat(64)}`, 401);
      await resolve(a, 'not-a-key', 401);
      // Instance b: answered twice, refused once.
      await times(2, () => resolve(b, live.secret, 200));
      await resolve(b, live.secret, 403, ['orders:write']);
      // The revoked key: used once, then refused on both instances.
      await resolve(a, revoked.secret, 200);
      await request(a.http)
        .delete(`${KEYS}/${revoked.id}`)
        .set('authorization', await sessionBearer(suite.session, 'alice'))
        .expect(200);
      await times(2, () => resolve(a, revoked.secret, 401));
      await resolve(b, revoked.secret, 401);
      // Expired, switched off, a disabled user's: refused.
      await times(2, () => resolve(a, expired.secret, 401));
      await times(2, () => resolve(b, expired.secret, 401));
      await resolve(a, off.secret, 401);
      await resolve(b, off.secret, 401);
      await times(2, () => resolve(a, carols.secret, 403));

      await flush(a, b);

      const expected = {
        [live.id]: { valid: 5, refused: 3 },
        [revoked.id]: { valid: 1, refused: 3 },
        [expired.id]: { valid: 0, refused: 4 },
        [off.id]: { valid: 0, refused: 2 },
      };
      const ids = [live.id, revoked.id, expired.id, off.id];
      expect(await stored(ids)).toEqual(
        Object.fromEntries(Object.entries(expected).filter(([, c]) => c.valid + c.refused > 0)),
      );
      const usage = await usageOf('alice', { keyIds: ids.join(','), ...window });
      expect(usage.map((u) => u.keyId)).toEqual(ids);
      expect(totals(usage)).toEqual(expected);
      for (const u of usage) {
        // Buckets hold the totals, whole hours, oldest first.
        expect(u.buckets.reduce((s, x) => s + x.valid, 0)).toBe(u.valid);
        expect(u.buckets.reduce((s, x) => s + x.refused, 0)).toBe(u.refused);
        for (const x of u.buckets) expect(Date.parse(x.start) % HOUR).toBe(0);
      }
      expect(totals(await usageOf('carol', { keyIds: carols.id, ...window }))).toEqual({
        [carols.id]: { valid: 0, refused: 2 },
      });

      // Both instances flushing at once again: counts keep adding up, nothing is counted twice.
      await times(4, () => resolve(a, live.secret, 200));
      await times(3, () => resolve(b, live.secret, 200));
      await resolve(b, live.secret, 403, ['orders:write']);
      await flush(a, b);
      expect((await stored([live.id]))[live.id]).toEqual({ valid: 12, refused: 4 });
    });

    it('writes what an instance counted when it shuts down', async () => {
      // A long interval: only the shutdown writes.
      const c = await suite.boot(fullEnv(suite.m2m, suite.session, { USAGE_FLUSH_INTERVAL_SECONDS: '300' }));
      const key = await mint('dave');
      await times(3, () => resolve(c, key.secret, 200));
      await resolve(c, key.secret, 403, ['orders:write']);
      expect(await stored([key.id])).toEqual({});
      await c.close();
      expect(await stored([key.id])).toEqual({ [key.id]: { valid: 3, refused: 1 } });
    });
  });

  describe('GET /api/v1/developer/keys/usage', () => {
    let erin: { id: string; secret: string };
    let frank: { id: string; secret: string };

    beforeAll(async () => {
      erin = await mint('erin');
      frank = await mint('frank');
      // Hour buckets over two UTC days, written as a flush would.
      await suite.db.query(
        `INSERT INTO api_key_usage (api_key_id, hour, valid, refused) VALUES
           ($1, '2030-01-01T22:00:00Z', 5, 1), ($1, '2030-01-01T23:00:00Z', 7, 0),
           ($1, '2030-01-02T00:00:00Z', 2, 2), ($1, '2030-01-02T05:00:00Z', 1, 0),
           ($2, '2030-01-01T23:00:00Z', 100, 100)`,
        [erin.id, frank.id],
      );
    });

    it('answers the hour buckets that start in [from, to), without empty ones; day folds them per UTC day', async () => {
      const window = { keyIds: erin.id, from: '2030-01-01T23:00:00Z', to: '2030-01-02T05:00:00Z' };
      expect(await usageOf('erin', window)).toEqual([
        {
          keyId: erin.id,
          valid: 9,
          refused: 2,
          buckets: [
            { start: '2030-01-01T23:00:00.000Z', valid: 7, refused: 0 },
            { start: '2030-01-02T00:00:00.000Z', valid: 2, refused: 2 },
          ],
        },
      ]);
      expect(
        await usageOf('erin', {
          ...window,
          from: '2030-01-01T00:00:00Z',
          to: '2030-01-03T00:00:00Z',
          granularity: 'day',
        }),
      ).toEqual([
        {
          keyId: erin.id,
          valid: 15,
          refused: 3,
          buckets: [
            { start: '2030-01-01T00:00:00.000Z', valid: 12, refused: 1 },
            { start: '2030-01-02T00:00:00.000Z', valid: 3, refused: 2 },
          ],
        },
      ]);
      // A key without counts in the window: zeros, no buckets.
      expect(await usageOf('erin', { keyIds: erin.id })).toEqual([
        { keyId: erin.id, valid: 0, refused: 0, buckets: [] },
      ]);
    });

    it("leaves out another user's keys and unknown ids, as if unknown; keeps the caller's order and spelling", async () => {
      const window = { from: '2030-01-01T00:00:00Z', to: '2030-01-03T00:00:00Z' };
      const usage = await usageOf('erin', {
        keyIds: [frank.id, UNKNOWN_ID, erin.id.toUpperCase(), erin.id].join(','),
        ...window,
      });
      expect(usage.map((u) => u.keyId)).toEqual([erin.id.toUpperCase()]);
      expect(await usageOf('frank', { keyIds: erin.id, ...window })).toEqual([]);
      expect(await usageOf('nobody-yet', { keyIds: erin.id, ...window })).toEqual([]);
    });

    it('is not swallowed by GET /developer/keys/:id, and :id still answers', async () => {
      const bearer = await sessionBearer(suite.session, 'erin');
      await request(a.http).get(`${KEYS}/${erin.id}`).set('authorization', bearer).expect(200);
      await request(a.http).get(`${USAGE}?keyIds=${erin.id}`).set('authorization', bearer).expect(200);
    });

    it('refuses a missing or wrong credential with 401', async () => {
      await request(a.http).get(USAGE).query({ keyIds: erin.id }).expect(401);
      await request(a.http)
        .get(USAGE)
        .query({ keyIds: erin.id })
        .set('authorization', 'Bearer nope')
        .expect(401);
      await request(a.http)
        .get(USAGE)
        .query({ keyIds: erin.id })
        .set('authorization', `Bearer ${resolver}`)
        .expect(401);
    });

    it.each([
      ['no keyIds', {}],
      ['an empty keyIds', { keyIds: '' }],
      ['a malformed id', { keyIds: `${UNKNOWN_ID},not-a-uuid` }],
      ['101 ids', { keyIds: Array.from({ length: 101 }, () => UNKNOWN_ID).join(',') }],
      ['from after to', { keyIds: UNKNOWN_ID, from: '2030-01-02T00:00:00Z', to: '2030-01-01T00:00:00Z' }],
      ['from equal to to', { keyIds: UNKNOWN_ID, from: '2030-01-02T00:00:00Z', to: '2030-01-02T00:00:00Z' }],
      [
        'a window over 90 days',
        { keyIds: UNKNOWN_ID, from: '2030-01-01T00:00:00Z', to: '2030-04-02T00:00:00Z' },
      ],
      ['a from that is no instant', { keyIds: UNKNOWN_ID, from: 'yesterday' }],
      ['a date-time without a zone', { keyIds: UNKNOWN_ID, to: '2030-01-02T00:00:00' }],
      ['an unknown granularity', { keyIds: UNKNOWN_ID, granularity: 'minute' }],
      ['an unknown parameter', { keyIds: UNKNOWN_ID, userId: UNKNOWN_ID }],
    ])('answers 400 validation_failed for %s', async (_what, query) => {
      const res = await request(a.http)
        .get(USAGE)
        .query(query)
        .set('authorization', await sessionBearer(suite.session, 'erin'))
        .expect(400);
      expect((res.body as { error: { type: string } }).error.type).toBe('validation_failed');
    });

    it('takes exactly 100 ids and a window of exactly 90 days', async () => {
      const ids = [
        erin.id,
        ...Array.from({ length: 99 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`),
      ];
      const usage = await usageOf('erin', {
        keyIds: ids.join(','),
        from: '2030-01-01T00:00:00Z',
        to: '2030-04-01T00:00:00Z',
      });
      expect(totals(usage)).toEqual({ [erin.id]: { valid: 15, refused: 3 } });
    });

    it('answers 100 keys over 30 days of hour buckets (72,000 rows) exactly', async () => {
      const keys: string[] = [];
      for (let i = 0; i < 100; i++) keys.push((await mint('heavy')).id);
      await suite.db.query(
        `INSERT INTO api_key_usage (api_key_id, hour, valid, refused)
         SELECT k.id, h, 1 + (extract(epoch FROM h)::bigint / 3600) % 5, k.n % 3
           FROM unnest($1::uuid[]) WITH ORDINALITY AS k(id, n),
                generate_series('2030-03-01T00:00:00Z'::timestamptz, '2030-03-30T23:00:00Z', interval '1 hour') h`,
        [keys],
      );
      const expected = await stored(keys);
      const usage = await usageOf('heavy', {
        keyIds: keys.join(','),
        from: '2030-03-01T00:00:00Z',
        to: '2030-03-31T00:00:00Z',
      });
      expect(usage.map((u) => u.keyId)).toEqual(keys);
      expect(totals(usage)).toEqual(expected);
      for (const u of usage) expect(u.buckets).toHaveLength(720);
      const days = await usageOf('heavy', {
        keyIds: keys.join(','),
        from: '2030-03-01T00:00:00Z',
        to: '2030-03-31T00:00:00Z',
        granularity: 'day',
      });
      expect(totals(days)).toEqual(expected);
      for (const u of days) expect(u.buckets).toHaveLength(30);
      // Compacted into 3,000 day rows (decision 0117), the same answers.
      await a.app.get(UsageRetention).sweep(Date.parse('2030-04-01T01:00:00Z'));
      expect(await stored(keys)).toEqual({});
      expect(
        await usageOf('heavy', {
          keyIds: keys.join(','),
          from: '2030-03-01T00:00:00Z',
          to: '2030-03-31T00:00:00Z',
        }),
      ).toEqual(usage);
      expect(
        await usageOf('heavy', {
          keyIds: keys.join(','),
          from: '2030-03-01T00:00:00Z',
          to: '2030-03-31T00:00:00Z',
          granularity: 'day',
        }),
      ).toEqual(days);
    });
  });

  describe('GET /api/v1/admin/usage', () => {
    let gina: { id: string; secret: string }[];
    let ginaUserId: string;

    beforeAll(async () => {
      gina = [await mint('gina'), await mint('gina')];
      ginaUserId = (
        await suite.db.query<{ id: string }>(`SELECT id FROM users WHERE external_id = 'gina'`)
      )[0]!.id;
      await suite.db.query(
        `INSERT INTO api_key_usage (api_key_id, hour, valid, refused) VALUES ($1, '2030-01-01T10:00:00Z', 4, 1)`,
        [gina[0]!.id],
      );
    });

    const admin = (query: Record<string, string>, credential = ADMIN): request.Test =>
      request(a.http).get(ADMIN_USAGE).query(query).set('authorization', credential);
    const orgToken = async (scopes: string[]): Promise<string> => {
      const { token } = await mintOrgToken(a.http, ADMIN, { name: `usage ${scopes.join(' ')}`, scopes });
      secrets.push(token);
      return `Bearer ${token}`;
    };

    it('answers every key of the user, newest first, with the same shape', async () => {
      const res = await admin({
        userId: ginaUserId,
        from: '2030-01-01T00:00:00Z',
        to: '2030-01-02T00:00:00Z',
      }).expect(200);
      expect(res.body).toEqual({
        usage: [
          { keyId: gina[1]!.id, valid: 0, refused: 0, buckets: [] },
          {
            keyId: gina[0]!.id,
            valid: 4,
            refused: 1,
            buckets: [{ start: '2030-01-01T10:00:00.000Z', valid: 4, refused: 1 }],
          },
        ],
      });
    });

    it('answers no keys for an unknown user', async () => {
      expect((await admin({ userId: UNKNOWN_ID }).expect(200)).body).toEqual({ usage: [] });
    });

    it('takes an org token with admin:read, refuses one without it (403), and no credential (401)', async () => {
      await admin({ userId: ginaUserId }, await orgToken(['admin:read'])).expect(200);
      const res = await admin({ userId: ginaUserId }, await orgToken(['api-keys:admin'])).expect(403);
      expect((res.body as { error: { type: string } }).error.type).toBe('forbidden');
      await request(a.http).get(ADMIN_USAGE).query({ userId: ginaUserId }).expect(401);
    });

    it.each([
      ['no userId', {}],
      ['a malformed userId', { userId: 'gina' }],
      [
        'a window over 90 days',
        { userId: UNKNOWN_ID, from: '2030-01-01T00:00:00Z', to: '2030-06-01T00:00:00Z' },
      ],
      ['from after to', { userId: UNKNOWN_ID, from: '2030-01-02T00:00:00Z', to: '2030-01-01T00:00:00Z' }],
    ])('answers 400 for %s', async (_what, query) => {
      await admin(query).expect(400);
    });
  });

  describe('compaction', () => {
    const at = (iso: string) => Date.parse(iso);
    let ivan: { id: string; secret: string };
    const windows: Record<string, string>[] = [
      { from: '2030-02-01T23:00:00Z', to: '2030-02-02T05:00:00Z' },
      { from: '2030-02-01T00:00:00Z', to: '2030-02-04T00:00:00Z' },
      { from: '2030-02-01T00:00:00Z', to: '2030-02-04T00:00:00Z', granularity: 'day' },
      { from: '2030-02-01T23:00:00Z', to: '2030-02-03T00:30:00Z', granularity: 'day' },
      { from: '2030-02-02T04:59:59Z', to: '2030-02-03T01:00:00.001Z' },
    ];
    const readAll = async (): Promise<unknown[]> => {
      const answers: unknown[] = [];
      const [user] = await suite.db.query<{ id: string }>(`SELECT id FROM users WHERE external_id = 'ivan'`);
      for (const w of windows) {
        answers.push(await usageOf('ivan', { keyIds: ivan.id, ...w }));
        const admin = await request(a.http)
          .get(ADMIN_USAGE)
          .query({ userId: user!.id, ...w })
          .set('authorization', ADMIN)
          .expect(200);
        answers.push(admin.body);
      }
      return answers;
    };
    const rowsOf = async (id: string) => ({
      hours: (
        await suite.db.query<{ hour: Date }>(
          'SELECT hour FROM api_key_usage WHERE api_key_id = $1 ORDER BY hour',
          [id],
        )
      ).map((r) => r.hour.toISOString()),
      days: (
        await suite.db.query<{ day: Date; valid: string; refused: string }>(
          'SELECT day, valid, refused FROM api_key_usage_days WHERE api_key_id = $1 ORDER BY day',
          [id],
        )
      ).map((r) => [r.day.toISOString(), Number(r.valid), Number(r.refused)]),
    });

    beforeAll(async () => {
      ivan = await mint('ivan');
      await suite.db.query(
        `INSERT INTO api_key_usage (api_key_id, hour, valid, refused) VALUES
           ($1, '2030-02-01T22:00:00Z', 5, 1), ($1, '2030-02-01T23:00:00Z', 7, 0),
           ($1, '2030-02-02T00:00:00Z', 2, 2), ($1, '2030-02-02T05:00:00Z', 1, 0),
           ($1, '2030-02-02T23:00:00Z', 3, 3), ($1, '2030-02-03T01:00:00Z', 4, 0)`,
        [ivan.id],
      );
    });

    it('moves the hours of days over for an hour into a row per day, and every read answers the same', async () => {
      const before = await readAll();
      expect((before[2] as KeyUsage[])[0]).toMatchObject({ valid: 22, refused: 6 });
      // At 00:59 the day before is not over for an hour yet: nothing of it moves.
      await a.app.get(UsageRetention).sweep(at('2030-02-03T00:59:00Z'));
      expect((await rowsOf(ivan.id)).days.map((d) => d[0])).toEqual(['2030-02-01T00:00:00.000Z']);
      const result = await a.app.get(UsageRetention).sweep(at('2030-02-03T01:00:00Z'));
      expect(result.compacted).toBeGreaterThanOrEqual(3);
      expect(await rowsOf(ivan.id)).toEqual({
        hours: ['2030-02-03T01:00:00.000Z'],
        days: [
          ['2030-02-01T00:00:00.000Z', 12, 1],
          ['2030-02-02T00:00:00.000Z', 6, 5],
        ],
      });
      expect(await readAll()).toEqual(before);
    });

    it('adds up a late flush for an hour of a day already compacted, before and after it is compacted too', async () => {
      const repository = a.app.get(KeyUsageRepository);
      await repository.add([
        { apiKeyId: ivan.id, hourMs: at('2030-02-02T00:00:00Z'), valid: 10, refused: 1 },
        { apiKeyId: ivan.id, hourMs: at('2030-02-02T06:00:00Z'), valid: 1, refused: 1 },
      ]);
      const expected = [
        { start: '2030-02-02T00:00:00.000Z', valid: 12, refused: 3 },
        { start: '2030-02-02T05:00:00.000Z', valid: 1, refused: 0 },
        { start: '2030-02-02T06:00:00.000Z', valid: 1, refused: 1 },
      ];
      const window = { keyIds: ivan.id, from: '2030-02-02T00:00:00Z', to: '2030-02-02T07:00:00Z' };
      const day = { ...window, to: '2030-02-03T00:00:00Z', granularity: 'day' };
      const check = async () => {
        expect((await usageOf('ivan', window))[0]!.buckets).toEqual(expected);
        expect((await usageOf('ivan', day))[0]!.buckets).toEqual([
          { start: '2030-02-02T00:00:00.000Z', valid: 17, refused: 7 },
        ]);
      };
      await check();
      await a.app.get(UsageRetention).sweep(at('2030-02-03T01:00:00Z'));
      expect((await rowsOf(ivan.id)).days[1]).toEqual(['2030-02-02T00:00:00.000Z', 17, 7]);
      await check();
    });

    it('loses no count when flushes of a closed day race the sweeps of two instances', async () => {
      const key = await mint('ivan');
      const hourMs = at('2030-02-05T10:00:00Z');
      const writes = Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).app
          .get(KeyUsageRepository)
          .add([{ apiKeyId: key.id, hourMs: hourMs + (i % 3) * HOUR, valid: 1, refused: i % 2 }]),
      );
      const sweeps = Array.from({ length: 6 }, (_, i) =>
        (i % 2 ? a : b).app.get(UsageRetention).sweep(at('2030-02-07T00:00:00Z')),
      );
      await Promise.all([...writes, ...sweeps]);
      const window = { keyIds: key.id, from: '2030-02-05T00:00:00Z', to: '2030-02-06T00:00:00Z' };
      const hours = (await usageOf('ivan', window))[0]!;
      expect(hours).toMatchObject({ valid: 40, refused: 20 });
      expect(hours.buckets.map((x) => x.valid)).toEqual([14, 13, 13]);
      expect((await usageOf('ivan', { ...window, granularity: 'day' }))[0]).toMatchObject({
        valid: 40,
        refused: 20,
      });
      await a.app.get(UsageRetention).sweep(at('2030-02-07T00:00:00Z'));
      expect((await rowsOf(key.id)).days).toEqual([['2030-02-05T00:00:00.000Z', 40, 20]]);
    });

    it('answers the day a day read cuts at its start, under the day’s start, before and after compaction', async () => {
      const key = await mint('ivan');
      await a.app.get(KeyUsageRepository).add([
        { apiKeyId: key.id, hourMs: at('2030-02-10T22:00:00Z'), valid: 5, refused: 1 },
        { apiKeyId: key.id, hourMs: at('2030-02-10T23:00:00Z'), valid: 7, refused: 0 },
        { apiKeyId: key.id, hourMs: at('2030-02-11T03:00:00Z'), valid: 2, refused: 2 },
      ]);
      const query = {
        keyIds: key.id,
        from: '2030-02-10T23:00:00Z',
        to: '2030-02-11T12:00:00Z',
        granularity: 'day',
      };
      const expected = {
        keyId: key.id,
        valid: 9,
        refused: 2,
        buckets: [
          { start: '2030-02-10T00:00:00.000Z', valid: 7, refused: 0 },
          { start: '2030-02-11T00:00:00.000Z', valid: 2, refused: 2 },
        ],
      };
      expect(await usageOf('ivan', query)).toEqual([expected]);
      await a.app.get(UsageRetention).sweep(at('2030-02-12T01:00:00Z'));
      expect((await rowsOf(key.id)).hours).toEqual([]);
      expect(await usageOf('ivan', query)).toEqual([expected]);
    });

    it('reads and keeps whole UTC days whatever the session time zone (a DST day is not 24 hours there)', async () => {
      const key = await mint('ivan');
      const [user] = await suite.db.query<{ id: string }>(`SELECT id FROM users WHERE external_id = 'ivan'`);
      // In Berlin, 2029-03-25 is 23 hours long and 2029-10-28 25: there, `interval '1 day'` is not a UTC day.
      await a.app.get(KeyUsageRepository).add([
        { apiKeyId: key.id, hourMs: at('2029-03-25T22:00:00Z'), valid: 1, refused: 0 },
        { apiKeyId: key.id, hourMs: at('2029-03-25T23:00:00Z'), valid: 10, refused: 0 },
      ]);
      await a.app.get(UsageRetention).sweep(at('2029-03-26T01:00:00Z'));
      expect((await rowsOf(key.id)).days).toEqual([['2029-03-25T00:00:00.000Z', 11, 0]]);
      const berlin = new URL(suite.db.url);
      berlin.searchParams.set('options', '-c TimeZone=Europe/Berlin');
      const ds = new DataSource({ type: 'postgres', url: berlin.toString() });
      await ds.initialize();
      try {
        const repository = new KeyUsageRepository(ds);
        const bucketsOf = async (from: string, to: string, granularity: 'hour' | 'day') => {
          const rows = await repository.read({ userId: user!.id }, new Date(from), new Date(to), granularity);
          const window = { from: Date.parse(from) / 1000, to: Date.parse(to) / 1000 };
          const body = usageJson(rows, undefined, granularity === 'hour' ? window : undefined);
          return (JSON.parse(body.toString()) as { usage: KeyUsage[] }).usage.find((u) => u.keyId === key.id)!
            .buckets;
        };
        expect(await bucketsOf('2029-03-25T23:00:00Z', '2029-03-26T01:00:00Z', 'hour')).toEqual([
          { start: '2029-03-25T23:00:00.000Z', valid: 10, refused: 0 },
        ]);
        expect(await bucketsOf('2029-03-25T00:00:00Z', '2029-03-25T23:00:00Z', 'day')).toEqual([
          { start: '2029-03-25T00:00:00.000Z', valid: 1, refused: 0 },
        ]);
        // 2029-10-28 ended at 2029-10-29T00:00Z: a retention ending then takes it.
        await a.app
          .get(KeyUsageRepository)
          .add([{ apiKeyId: key.id, hourMs: at('2029-10-28T12:00:00Z'), valid: 100, refused: 0 }]);
        await a.app.get(UsageRetention).sweep(at('2029-10-29T01:00:00Z'));
        expect((await rowsOf(key.id)).days).toEqual([['2029-10-28T00:00:00.000Z', 100, 0]]);
        await ds.transaction((m) => repository.deleteDaysBefore(new Date('2029-10-29T00:00:00Z'), 1000, m));
        expect((await rowsOf(key.id)).days).toEqual([]);
      } finally {
        await ds.destroy();
      }
    });

    it('takes the hour rows in the order a flush does: a late flush racing a compaction does not deadlock', async () => {
      const key = await mint('ivan');
      const hour = (h: number) => new Date(at('2028-01-01T00:00:00Z') + h * HOUR);
      // Written 02:00, 03:00, 01:00: the rows lie on the page against their key order (a flush's order).
      for (const h of [2, 3, 1])
        await suite.db.query(
          'INSERT INTO api_key_usage (api_key_id, hour, valid, refused) VALUES ($1, $2, 1, 0)',
          [key.id, hour(h)],
        );
      const ctids = await suite.db.query<{ h: number }>(
        `SELECT extract(hour FROM hour AT TIME ZONE 'UTC')::int AS h FROM api_key_usage
          WHERE api_key_id = $1 ORDER BY ctid`,
        [key.id],
      );
      expect(ctids.map((r) => r.h)).toEqual([2, 3, 1]);
      const waiting = async (n: number) =>
        eventually(async () => {
          const [row] = await suite.db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          );
          return row!.n >= n;
        });
      const holder = new Client({ connectionString: suite.db.url });
      await holder.connect();
      try {
        // 03:00 held: the compaction stops there, past what it took first.
        await holder.query('BEGIN');
        await holder.query('SELECT 1 FROM api_key_usage WHERE api_key_id = $1 AND hour = $2 FOR UPDATE', [
          key.id,
          hour(3),
        ]);
        const compaction = a.app
          .get(DataSource)
          .transaction((m) => a.app.get(KeyUsageRepository).compactBefore(hour(24), 5000, m));
        await waiting(1);
        // A late flush of 01:00 and 02:00, in key and hour order.
        const flush = a.app.get(KeyUsageRepository).add([
          { apiKeyId: key.id, hourMs: hour(1).getTime(), valid: 10, refused: 0 },
          { apiKeyId: key.id, hourMs: hour(2).getTime(), valid: 10, refused: 0 },
        ]);
        await waiting(2);
        await holder.query('COMMIT');
        const settled = await Promise.allSettled([compaction, flush]);
        expect(settled.map((r) => (r.status === 'rejected' ? String(r.reason) : 'done'))).toEqual([
          'done',
          'done',
        ]);
      } finally {
        await holder.end();
      }
      // Every count once: in the day row, or flushed after and still an hour row.
      const [day] = await suite.db.query<{ valid: string }>(
        'SELECT valid FROM api_key_usage_days WHERE api_key_id = $1',
        [key.id],
      );
      const [hours] = await suite.db.query<{ valid: string | null }>(
        'SELECT sum(valid) AS valid FROM api_key_usage WHERE api_key_id = $1',
        [key.id],
      );
      expect(Number(day?.valid ?? 0) + Number(hours?.valid ?? 0)).toBe(23);
    });

    it('goes with its key', async () => {
      const key = await mint('ivan');
      await a.app
        .get(KeyUsageRepository)
        .add([{ apiKeyId: key.id, hourMs: at('2030-02-05T10:00:00Z'), valid: 1, refused: 0 }]);
      await a.app.get(UsageRetention).sweep(at('2030-02-07T00:00:00Z'));
      expect((await rowsOf(key.id)).days).toHaveLength(1);
      await suite.db.query('DELETE FROM api_keys WHERE id = $1', [key.id]);
      expect(await rowsOf(key.id)).toEqual({ hours: [], days: [] });
    });
  });

  describe('retention', () => {
    it('deletes the buckets older than USAGE_RETENTION_DAYS only, one instance at a time', async () => {
      const key = await mint('henry');
      const now = Date.now();
      const hourAgo = (days: number) =>
        new Date(now - days * 86_400_000 - ((now - days * 86_400_000) % HOUR));
      await suite.db.query(
        `INSERT INTO api_key_usage (api_key_id, hour, valid, refused) VALUES ($1, $2, 1, 0), ($1, $3, 2, 0), ($1, $4, 3, 0)`,
        [key.id, hourAgo(120), hourAgo(91), hourAgo(89)],
      );
      // Another instance holding the lock: this one skips.
      const holder = new Client({ connectionString: suite.db.url });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT pg_advisory_xact_lock($1)', [SWEEP_LOCK_KEY]);
        expect(await a.app.get(UsageRetention).sweep(now)).toEqual({
          skipped: true,
          compacted: 0,
          deleted: 0,
        });
        await holder.query('COMMIT');
      } finally {
        await holder.end();
      }
      // The two old hours go; the last one is compacted into its day.
      expect(await a.app.get(UsageRetention).sweep(now)).toMatchObject({ skipped: false, deleted: 2 });
      const days = await suite.db.query<{ valid: string }>(
        'SELECT valid FROM api_key_usage_days WHERE api_key_id = $1',
        [key.id],
      );
      expect(days.map((r) => Number(r.valid))).toEqual([3]);
      // A compacted day goes once it has ended USAGE_RETENTION_DAYS ago.
      expect(await a.app.get(UsageRetention).sweep(now + 2 * 86_400_000)).toMatchObject({ deleted: 1 });
      expect(
        await suite.db.query('SELECT 1 FROM api_key_usage_days WHERE api_key_id = $1', [key.id]),
      ).toEqual([]);
    });
  });
});
