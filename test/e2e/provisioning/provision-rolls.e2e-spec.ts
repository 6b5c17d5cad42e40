import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { provision, type Provisioned } from 'test/helpers/factories';
import { errorShape, INVALID_API_KEY, resolveKey } from 'test/helpers/http';
import { ALLOWED_ORG, m2mToken, sessionBearer } from 'test/helpers/issuers';

const PROVISION = '/api/v1/internal/provision-apikey';

interface KeyView {
  id: string;
  status: string;
  revokedReason: string | null;
  predecessorId: string | null;
  successorId: string | null;
  graceEndsAt: string | null;
}

/**
 * Provisioning replaces the user's key of that name by rolling it with `graceSeconds` (API.md "Key lifecycle",
 * decision 0060): with a grace the old key keeps resolving, and says `rolling`; with none (the default) it is
 * revoked at once, as before. Either way the answer names the key it replaced.
 */
describe('provisioning rolls the key it replaces (graceSeconds)', () => {
  const suite = e2eSuite();
  let a: TestApp;
  let b: TestApp;
  let token: string;
  let resolver: string;
  const secrets: string[] = [];

  beforeAll(async () => {
    [a, b] = await suite.bootPair();
    token = await m2mToken(suite.m2m, 'provisioner', 'provision:apikey');
    resolver = await m2mToken(suite.m2m, 'resolver', 'apikeys:resolve');
  });

  afterAll(() => {
    for (const t of [a, b]) expect(t.logs.leaked(secrets)).toEqual([]);
  });

  const provisioned = async (
    externalId: string,
    extra: { graceSeconds?: number; keyName?: string } = {},
    on: TestApp = a,
  ): Promise<Provisioned> => {
    const p = await provision(on.http, token, { externalId, ...extra });
    secrets.push(p.apiKey);
    return p;
  };
  const keysOf = async (sub: string): Promise<KeyView[]> => {
    const res = await request(a.http)
      .get('/api/v1/developer/keys?includeRevoked=true')
      .set('authorization', await sessionBearer(suite.session, sub))
      .expect(200);
    return (res.body as { keys: KeyView[] }).keys;
  };
  const idOf = async (keyId: string): Promise<string> =>
    (await suite.db.query<{ id: string }>('SELECT id FROM api_keys WHERE key_id = $1', [keyId]))[0]!.id;

  it('by default (grace 0) revokes the old key at once on both instances, reason provisioning, and names it', async () => {
    const first = await provisioned('pr-zero');
    expect(first.previousKeyId).toBeNull();
    await resolveKey(b.http, resolver, first.apiKey).expect(200); // cached on b
    const second = await provisioned('pr-zero');
    const firstId = await idOf(first.keyId);
    expect(second.previousKeyId).toBe(firstId);
    await resolveKey(b.http, resolver, first.apiKey).expect(401, INVALID_API_KEY);
    await resolveKey(b.http, resolver, second.apiKey).expect(200);
    const byId = Object.fromEntries((await keysOf('pr-zero')).map((k) => [k.id, k]));
    expect(byId[firstId]).toMatchObject({
      status: 'REVOKED',
      revokedReason: 'provisioning',
      successorId: await idOf(second.keyId),
    });
    expect(byId[await idOf(second.keyId)]).toMatchObject({ status: 'ACTIVE', predecessorId: firstId });
  });

  it('with a grace, the old key keeps resolving on both instances and says rolling', async () => {
    const first = await provisioned('pr-grace');
    await resolveKey(b.http, resolver, first.apiKey).expect(200); // cached on b, not rolling yet
    const before = Date.now();
    const second = await provisioned('pr-grace', { graceSeconds: 600 });
    const firstId = await idOf(first.keyId);
    const secondId = await idOf(second.keyId);
    expect(second.previousKeyId).toBe(firstId);
    for (const on of [b, a]) {
      const res = await resolveKey(on.http, resolver, first.apiKey).expect(200);
      const { rolling } = res.body as { rolling: { successorId: string; graceEndsAt: string } };
      expect(rolling.successorId).toBe(secondId);
      expect(Date.parse(rolling.graceEndsAt)).toBeGreaterThanOrEqual(before + 600_000 - 5_000);
      expect(Date.parse(rolling.graceEndsAt)).toBeLessThanOrEqual(Date.now() + 600_000 + 5_000);
      await resolveKey(on.http, resolver, second.apiKey).expect(200);
    }
    const byId = Object.fromEntries((await keysOf('pr-grace')).map((k) => [k.id, k]));
    expect(byId[firstId]).toMatchObject({ status: 'ACTIVE', successorId: secondId, revokedReason: null });

    // The next provisioning rolls the current key; the one still in its grace keeps it.
    const third = await provisioned('pr-grace', { graceSeconds: 600 });
    expect(third.previousKeyId).toBe(secondId);
    for (const p of [first, second, third]) await resolveKey(a.http, resolver, p.apiKey).expect(200);
  });

  it.each([
    ['negative', -1],
    ['over 30 days', 2_592_001],
    ['fractional', 0.5],
    ['a string', '60'],
    ['null', null],
  ])('refuses a graceSeconds that is %s with 400, and mints nothing', async (_, graceSeconds) => {
    const res = await request(a.http)
      .post(PROVISION)
      .set('authorization', `Bearer ${token}`)
      .send({ externalId: 'pr-bad', email: 'pr@example.com', orgId: ALLOWED_ORG, graceSeconds });
    expect({ status: res.status, body: res.body as unknown }).toEqual({
      status: 400,
      body: errorShape('validation_failed', 400),
    });
    expect(
      await suite.db.query(
        `SELECT 1 FROM api_keys k JOIN users u ON u.id = k.user_id WHERE u.external_id = 'pr-bad'`,
      ),
    ).toHaveLength(0);
  });

  it('concurrent provisions with a grace, on two instances, leave one live key that is not in a grace, in one chain', async () => {
    await provisioned('pr-burst');
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        request((i % 2 ? a : b).http)
          .post(PROVISION)
          .set('authorization', `Bearer ${token}`)
          .send({ externalId: 'pr-burst', email: 'pr@example.com', orgId: ALLOWED_ORG, graceSeconds: 600 }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(12).fill(200));
    const bodies = results.map((r) => r.body as Provisioned);
    bodies.forEach((p) => secrets.push(p.apiKey));
    // Each call replaced a different key: thirteen keys, one chain.
    expect(new Set(bodies.map((p) => p.previousKeyId)).size).toBe(12);
    const rows = await suite.db.query<{
      id: string;
      successorId: string | null;
      predecessorId: string | null;
    }>(
      `SELECT k.id, k.successor_id AS "successorId", k.predecessor_id AS "predecessorId"
         FROM api_keys k JOIN users u ON u.id = k.user_id
        WHERE u.external_id = 'pr-burst' AND k.revoked_at IS NULL`,
    );
    expect(rows).toHaveLength(13);
    const current = rows.filter((r) => r.successorId === null);
    expect(current).toHaveLength(1);
    expect(rows.filter((r) => r.predecessorId === null)).toHaveLength(1);
    const winner = bodies.find(
      (p) => p.previousKeyId !== null && current[0]!.predecessorId === p.previousKeyId,
    );
    expect(winner).toBeDefined();
    const resolved = await resolveKey(a.http, resolver, winner!.apiKey).expect(200);
    expect(resolved.body).not.toHaveProperty('rolling');
  });
});
