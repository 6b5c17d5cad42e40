import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { mintDeveloperKey, provision } from 'test/helpers/factories';
import { FULL_ADMIN_TOKEN, fullEnv } from 'test/helpers/full-app';
import { errorShape } from 'test/helpers/http';
import { m2mToken, sessionBearer } from 'test/helpers/issuers';

const ADMIN = `Bearer ${FULL_ADMIN_TOKEN}`;

interface Key {
  id: string;
  label: string | null;
  keyPrefix: string;
  status: string;
  user: { id: string; externalId: string; email: string | null };
  project: { id: string };
}
interface KeyPage {
  keys: Key[];
  nextCursor: string | null;
}
interface User {
  id: string;
  externalId: string;
  email: string | null;
  name: string | null;
  status: string;
  liveKeyCount: number;
}
interface UserPage {
  users: User[];
  nextCursor: string | null;
}

/** Issue 20: GET /api/v1/admin/api-keys and GET /api/v1/admin/users, their filters and their cursors. */
describe('the admin inventory', () => {
  const suite = e2eSuite();
  let t: TestApp;
  const secrets: string[] = [FULL_ADMIN_TOKEN];
  const ids: Record<string, string> = {};

  const get = (path: string, query: Record<string, string | number> = {}): request.Test =>
    request(t.http).get(path).query(query).set('authorization', ADMIN);
  const keys = async (query: Record<string, string | number> = {}): Promise<KeyPage> => {
    const res = await get('/api/v1/admin/api-keys', query);
    expect(res.status).toBe(200);
    return res.body as KeyPage;
  };
  /** Every page of the key list with `query`, `limit` at a time. */
  const allKeys = async (query: Record<string, string | number>, limit: number): Promise<Key[]> => {
    const seen: Key[] = [];
    let cursor: string | null = null;
    do {
      const page: KeyPage = await keys({ ...query, limit, ...(cursor === null ? {} : { cursor }) });
      expect(page.keys.length).toBeLessThanOrEqual(limit);
      seen.push(...page.keys);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return seen;
  };
  const mint = async (sub: string, body: object = {}): Promise<string> => {
    const minted = await mintDeveloperKey(t.http, await sessionBearer(suite.session, sub), body);
    secrets.push(minted.secret);
    return minted.key.id;
  };
  const dbOrder = async (where = 'true', params: unknown[] = []): Promise<string[]> =>
    (
      await suite.db.query<{ id: string }>(
        `SELECT k.id FROM api_keys k JOIN users u ON u.id = k.user_id WHERE ${where}
          ORDER BY k.created_at DESC, k.id DESC`,
        params,
      )
    ).map((r) => r.id);

  beforeAll(async () => {
    t = await suite.boot(fullEnv(suite.m2m, suite.session));
    for (let i = 0; i < 6; i++) await mint('alice', { label: `Alice laptop ${i}` });
    ids.aliceProject = (
      await request(t.http)
        .post('/api/v1/developer/projects')
        .set('authorization', await sessionBearer(suite.session, 'alice'))
        .send({ name: 'side project' })
    ).body.id as string;
    for (let i = 0; i < 3; i++) await mint('alice', { label: `side ${i}`, projectId: ids.aliceProject });
    ids.revoked = await mint('bob', { label: '100%_literal' });
    await request(t.http)
      .delete(`/api/v1/developer/keys/${ids.revoked}`)
      .set('authorization', await sessionBearer(suite.session, 'bob'))
      .expect(200);
    ids.disabled = await mint('bob', { label: 'bob disabled' });
    await request(t.http)
      .patch(`/api/v1/developer/keys/${ids.disabled}`)
      .set('authorization', await sessionBearer(suite.session, 'bob'))
      .send({ enabled: false })
      .expect(200);
    ids.expired = await mint('bob', { label: 'bob expired' });
    await suite.db.query(`UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = $1`, [
      ids.expired,
    ]);
    const provisioner = await m2mToken(suite.m2m, 'provisioner', 'provision:apikey');
    const p = await provision(t.http, provisioner, {
      externalId: 'carol',
      email: 'Carol@Example.com',
      name: 'Carol Danvers',
    });
    secrets.push(p.apiKey);
    // Five keys with one created_at: the cursor's tie-break on id must still page them exactly.
    for (let i = 0; i < 5; i++) await mint('dave', { label: `tie ${i}` });
    await suite.db.query(
      `UPDATE api_keys SET created_at = '2026-01-01T00:00:00.123456Z'
        WHERE user_id = (SELECT id FROM users WHERE external_id = 'dave')`,
    );
  });

  afterAll(() => {
    expect(t.logs.leaked(secrets)).toEqual([]);
  });

  describe('GET /api/v1/admin/api-keys', () => {
    it('pages through every key, newest first, exactly once (ties on created_at included)', async () => {
      const expected = await dbOrder();
      for (const limit of [1, 2, 7, 200])
        expect((await allKeys({}, limit)).map((k) => k.id)).toEqual(expected);
      const first = await keys();
      expect(first.keys).toHaveLength(expected.length);
      expect(first.nextCursor).toBeNull();
    });

    it('shows each key with its user', async () => {
      const [key] = (await keys({ externalId: 'carol' })).keys;
      expect(key).toMatchObject({
        label: 'provisioned',
        status: 'ACTIVE',
        user: { externalId: 'carol', email: 'Carol@Example.com' },
      });
    });

    it.each([
      ['userId', async () => ({ userId: (await userId('alice'))! }), `u.external_id = 'alice'`],
      ['externalId', () => Promise.resolve({ externalId: 'bob' }), `u.external_id = 'bob'`],
      ['projectId', () => Promise.resolve({ projectId: ids.aliceProject! }), `k.label LIKE 'side %'`],
      ['status=REVOKED', () => Promise.resolve({ status: 'REVOKED' }), 'k.revoked_at IS NOT NULL'],
      [
        'status=DISABLED',
        () => Promise.resolve({ status: 'DISABLED' }),
        `k.disabled_at IS NOT NULL AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())`,
      ],
      [
        'status=EXPIRED',
        () => Promise.resolve({ status: 'EXPIRED' }),
        `k.expires_at <= now() AND k.revoked_at IS NULL`,
      ],
      [
        'status=ACTIVE',
        () => Promise.resolve({ status: 'ACTIVE' }),
        `k.revoked_at IS NULL AND k.disabled_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())`,
      ],
      [
        'q on the label (any case)',
        () => Promise.resolve({ q: 'ALICE LAP' }),
        `k.label LIKE 'Alice laptop%'`,
      ],
      [
        'q with LIKE wildcards taken literally',
        () => Promise.resolve({ q: '100%_' }),
        `k.label = '100%_literal'`,
      ],
      ['q matching nothing through a wildcard', () => Promise.resolve({ q: '1_0' }), 'false'],
      ['an unknown user', () => Promise.resolve({ userId: '00000000-0000-4000-8000-000000000000' }), 'false'],
    ])('filter %s', async (_label, query, where) => {
      const q = await query();
      const expected = await dbOrder(where);
      expect((await allKeys(q, 2)).map((k) => k.id)).toEqual(expected);
    });

    it('q matches a key prefix', async () => {
      const [row] = await suite.db.query<{ key_prefix: string; id: string }>(
        `SELECT key_prefix, id FROM api_keys WHERE id = $1`,
        [ids.disabled],
      );
      const found = await keys({ q: row!.key_prefix.toUpperCase() });
      expect(found.keys.map((k) => k.id)).toEqual([row!.id]);
    });

    it.each([
      ['limit 0', { limit: 0 }],
      ['limit 201', { limit: 201 }],
      ['limit not a number', { limit: 'ten' }],
      ['limit fractional', { limit: 1.5 }],
      ['a malformed userId', { userId: 'nope' }],
      ['a malformed projectId', { projectId: '1234' }],
      ['an unknown status', { status: 'GONE' }],
      ['an empty q', { q: '' }],
      ['q over 100 characters', { q: 'x'.repeat(101) }],
      ['q with a control character', { q: 'a\u0000b' }],
      ['an unknown parameter', { sort: 'asc' }],
    ])('%s: 400', async (_label, query) => {
      const res = await get('/api/v1/admin/api-keys', query);
      expect({ status: res.status, body: res.body as unknown }).toEqual({
        status: 400,
        body: errorShape('validation_failed', 400),
      });
    });

    describe('cursors', () => {
      let cursor: string;
      beforeAll(async () => {
        cursor = (await keys({ limit: 2 })).nextCursor!;
        expect(cursor).toEqual(expect.any(String));
      });

      const refused = async (query: Record<string, string | number>): Promise<void> => {
        const res = await get('/api/v1/admin/api-keys', query);
        expect({ status: res.status, body: res.body as unknown }).toEqual({
          status: 400,
          body: errorShape('validation_failed', 400),
        });
      };
      const forge = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
      const decoded = (): unknown[] =>
        JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];

      it('from another filter (or none), or for the user list: 400', async () => {
        await refused({ cursor, status: 'ACTIVE', limit: 2 });
        await refused({ cursor, q: 'a', limit: 2 });
        const userCursor = (await get('/api/v1/admin/users', { limit: 1 })).body as UserPage;
        await refused({ cursor: userCursor.nextCursor!, limit: 2 });
        const filtered = (await keys({ externalId: 'alice', limit: 2 })).nextCursor!;
        await refused({ cursor: filtered, limit: 2 });
        await refused({ cursor: filtered, externalId: 'bob', limit: 2 });
      });

      it('the same filter with another limit is fine', async () => {
        await get('/api/v1/admin/api-keys', { cursor, limit: 5 }).expect(200);
      });

      it.each([
        ['random text', 'not-a-cursor'],
        ['base64 of garbage', Buffer.from('garbage').toString('base64url')],
        ['characters outside base64url', 'abc$def'],
        ['too long', 'a'.repeat(257)],
        ['a stale version', () => forge([0, ...decoded().slice(1)])],
        ['a tampered digest', () => forge([...decoded().slice(0, 3), 'AAAAAAAAAAAAAAAA'])],
        ['a position that is not a uuid', () => forge([1, decoded()[1], 'x', decoded()[3]])],
        ['a time beyond any instant', () => forge([1, '99999999999999999', decoded()[2], decoded()[3]])],
        ['a negative time', () => forge([1, '-5', decoded()[2], decoded()[3]])],
        ['a time as a number', () => forge([1, 5, decoded()[2], decoded()[3]])],
        ['an object', () => forge({ at: decoded()[1] })],
      ])('forged (%s): 400, never a 500', async (_label, value) => {
        await refused({ cursor: typeof value === 'function' ? value() : value, limit: 2 });
      });

      it('a cursor naming a row since deleted still pages from where it was', async () => {
        const page = await keys({ externalId: 'dave', limit: 2 });
        const [lastId] = page.keys.slice(-1).map((k) => k.id);
        const expected = (await dbOrder(`u.external_id = 'dave'`)).slice(2);
        await suite.db.query('DELETE FROM api_keys WHERE id = $1', [lastId]);
        const next = await keys({ externalId: 'dave', limit: 10, cursor: page.nextCursor! });
        expect(next.keys.map((k) => k.id)).toEqual(expected);
      });
    });
  });

  const userId = async (externalId: string): Promise<string | undefined> =>
    (await suite.db.query<{ id: string }>('SELECT id FROM users WHERE external_id = $1', [externalId]))[0]
      ?.id;

  describe('GET /api/v1/admin/users', () => {
    const users = async (query: Record<string, string | number> = {}): Promise<UserPage> => {
      const res = await get('/api/v1/admin/users', query);
      expect(res.status).toBe(200);
      return res.body as UserPage;
    };

    it('lists every user newest first with their live key count, in exact pages', async () => {
      const expected = (
        await suite.db.query<{ id: string }>('SELECT id FROM users ORDER BY created_at DESC, id DESC')
      ).map((r) => r.id);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: UserPage = await users({ limit: 1, ...(cursor === null ? {} : { cursor }) });
        seen.push(...page.users.map((u) => u.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(seen).toEqual(expected);
      const all = (await users()).users;
      // bob: one revoked, one disabled (still live), one expired.
      expect(all.find((u) => u.externalId === 'bob')).toMatchObject({ status: 'ACTIVE', liveKeyCount: 1 });
      expect(all.find((u) => u.externalId === 'alice')!.liveKeyCount).toBe(9);
    });

    it.each([
      ['the external id', 'CAR'],
      ['the email', 'carol@ex'],
      ['the name', 'carol d'],
    ])('q matches %s (a prefix, any case)', async (_label, q) => {
      expect((await users({ q })).users.map((u) => u.externalId)).toEqual(['carol']);
    });

    it('filters by status', async () => {
      await suite.db.query(`UPDATE users SET disabled_at = now() WHERE external_id = 'dave'`);
      expect((await users({ status: 'DISABLED' })).users.map((u) => u.externalId)).toEqual(['dave']);
      expect((await users({ status: 'ACTIVE' })).users.map((u) => u.externalId)).not.toContain('dave');
    });

    it.each([
      ['limit 201', { limit: 201 }],
      ['an unknown status', { status: 'REVOKED' }],
      ['a key-list cursor', { cursor: 'x' }],
      ['an unknown parameter', { externalId: 'bob' }],
    ])('%s: 400', async (_label, query) => {
      await get('/api/v1/admin/users', query).expect(400);
    });
  });
});
