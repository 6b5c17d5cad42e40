import request from 'supertest';
import type { AdminScope } from 'src/auth/admin/admin-scopes';
import { RevocationFeed } from 'src/database/revocation-feed';
import { OrgTokensService } from 'src/org-tokens/org-tokens.service';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { endOrgTokenGrace, expireOrgToken } from 'test/helpers/factories';
import { UNAUTHORIZED } from 'test/helpers/http';
import { secretsInTables } from 'test/helpers/table-scan';
import { concurrently, eventually } from 'test/helpers/waiting';

const ADMIN_TOKEN = 'break-glass-admin-token-for-org-token-rolls';
const UUID = '3f0c8a4e-8a5b-4c1e-9d2f-0a1b2c3d4e5f';
/** Enough rounds for a race between the roll's NOTIFY and the next request to show, were the caches not fenced. */
const ROUNDS = 10;

interface Minted {
  id: string;
  name: string | null;
  prefix: string;
  scopes: AdminScope[];
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  graceEndsAt: string | null;
  successorId: string | null;
  token: string;
  warning: string;
}
interface Rolled extends Minted {
  previous: { id: string; graceEndsAt: string };
}
interface Listed {
  id: string;
  graceEndsAt: string | null;
  successorId: string | null;
}

/**
 * Rolling an org token (API.md, "Key lifecycle", org tokens): a new token with the old one's name, scopes and
 * expiry; the old one works until its grace ends, which reaches every instance like a revocation.
 */
describe('org tokens: roll (POST /api/v1/org/tokens/:id/roll)', () => {
  const suite = e2eSuite();
  let a: TestApp;
  let b: TestApp;
  const secrets: string[] = [ADMIN_TOKEN];

  const as = (credential: string, on: () => TestApp = () => a) => ({
    get: (url: string) => request(on().http).get(url).set('authorization', `Bearer ${credential}`),
    post: (url: string, body?: unknown) => {
      const req = request(on().http).post(url).set('authorization', `Bearer ${credential}`);
      return body === undefined ? req : req.send(body as object);
    },
    delete: (url: string) => request(on().http).delete(url).set('authorization', `Bearer ${credential}`),
  });
  const whoami = (token: string, on: TestApp = a) => as(token, () => on).get('/api/v1/admin/whoami');

  async function mint(body: object = {}, credential = ADMIN_TOKEN): Promise<Minted> {
    const res = await as(credential).post('/api/v1/org/tokens', body).expect(201);
    const minted = res.body as Minted;
    secrets.push(minted.token);
    return minted;
  }

  const roll = (id: string, body?: object, credential = ADMIN_TOKEN, on: TestApp = a) =>
    as(credential, () => on).post(`/api/v1/org/tokens/${id}/roll`, body);

  async function rolled(
    id: string,
    body?: object,
    credential = ADMIN_TOKEN,
    on: TestApp = a,
  ): Promise<Rolled> {
    const res = await roll(id, body, credential, on).expect(201);
    const answer = res.body as Rolled;
    secrets.push(answer.token);
    return answer;
  }

  const listed = async (id: string): Promise<Listed | undefined> =>
    ((await as(ADMIN_TOKEN).get('/api/v1/org/tokens').expect(200)).body as { tokens: Listed[] }).tokens.find(
      (x) => x.id === id,
    );

  const successors = async (id: string): Promise<string[]> =>
    (
      await suite.db.query<{ successor_id: string | null }>(
        'SELECT successor_id FROM org_tokens WHERE id = $1',
        [id],
      )
    ).flatMap((r) => (r.successor_id ? [r.successor_id] : []));

  beforeAll(async () => {
    const env = { ADMIN_TOKEN, RATE_LIMIT_ORG_TOKEN_MINT: '10000/1h', RATE_LIMIT_ADMIN: '100000/60s' };
    a = await suite.boot(env);
    b = await suite.boot(env);
    await eventually(() => a.app.get(RevocationFeed).listening && b.app.get(RevocationFeed).listening);
  });

  suite.beforeTeardown(async () => {
    for (const app of [a, b]) await app?.app.get(OrgTokensService).settle();
    if (a) expect(a.logs.leaked(secrets)).toEqual([]);
    expect(await secretsInTables(suite.db, secrets)).toEqual([]);
  });

  it('answers 201 with the new token once (no-store), inheriting name, scopes and expiry', async () => {
    const old = await mint({
      name: 'deploy',
      scopes: ['admin:read', 'org-tokens:write'],
      expiresAt: '2099-01-01T00:00:00Z',
    });
    const before = Date.now();
    const res = await roll(old.id, { graceSeconds: 3600 }).expect(201);
    const after = Date.now();
    const body = res.body as Rolled;
    secrets.push(body.token);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'deploy',
      prefix: body.token.slice(0, 12),
      scopes: ['admin:read', 'org-tokens:write'],
      createdBy: 'admin-token',
      createdAt: expect.any(String),
      expiresAt: '2099-01-01T00:00:00.000Z',
      graceEndsAt: null,
      successorId: null,
      token: expect.stringMatching(/^kso_[0-9A-Za-z]{38}$/),
      warning: expect.stringMatching(/not be shown again/),
      previous: { id: old.id, graceEndsAt: expect.any(String) },
    });
    expect(body.id).not.toBe(old.id);
    expect(body.token).not.toBe(old.token);
    // now + 3600 s, by the database's clock (a bound, not a speed: the two clocks are the same machine's).
    const graceEnd = Date.parse(body.previous.graceEndsAt);
    expect(graceEnd).toBeGreaterThanOrEqual(before + 3600_000 - 5_000);
    expect(graceEnd).toBeLessThanOrEqual(after + 3600_000 + 5_000);
    await whoami(body.token).expect(200, {
      tier: 'org_token',
      actor: `org-token:${body.prefix}`,
      scopes: ['admin:read', 'org-tokens:write'],
    });
  });

  it('keeps the old token working during its grace; the list shows both, the old one with graceEndsAt', async () => {
    const old = await mint({ name: 'grace' });
    await whoami(old.token).expect(200);
    const next = await rolled(old.id, { graceSeconds: 600 });
    await whoami(old.token).expect(200);
    await whoami(old.token, b).expect(200);
    await whoami(next.token).expect(200);
    expect(await listed(old.id)).toMatchObject({
      graceEndsAt: next.previous.graceEndsAt,
      successorId: next.id,
    });
    expect(await listed(next.id)).toMatchObject({ graceEndsAt: null, successorId: null });
    // Once the grace is over the old token leaves the list.
    await endOrgTokenGrace(suite.db, old.id);
    expect(await listed(old.id)).toBeUndefined();
    expect(await listed(next.id)).toBeDefined();
  });

  it('refuses the old token once its grace ends, on an instance that had it cached', async () => {
    const old = await mint();
    await whoami(old.token, b).expect(200);
    await rolled(old.id, { graceSeconds: 1 });
    await whoami(old.token, b).expect(200); // cached again, with the grace's end as its end
    // Polls the state (no fixed sleep): the cache serves it no longer than the grace.
    await eventually(async () => (await whoami(old.token, b)).status === 401);
    await whoami(old.token, b).expect(401, UNAUTHORIZED);
  });

  it('gives a day of grace when none is asked for (an empty body, or none at all)', async () => {
    for (const body of [{}, undefined]) {
      const old = await mint();
      const next = await rolled(old.id, body);
      const days = (Date.parse(next.previous.graceEndsAt) - Date.parse(next.createdAt)) / 86_400_000;
      expect(days).toBeCloseTo(1, 3);
    }
  });

  it('never lets the grace outlive the old token: its expiry wins', async () => {
    const expiresAt = new Date(Date.now() + 3600_000).toISOString();
    const old = await mint({ expiresAt });
    const next = await rolled(old.id, { graceSeconds: 2_592_000 });
    expect(next.previous.graceEndsAt).toBe(expiresAt);
    expect(next.expiresAt).toBe(expiresAt);
  });

  it('with a grace of 0, refuses the old token at the very next request on every instance', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const old = await mint({ name: `zero ${round}` });
      await whoami(old.token, b).expect(200);
      await whoami(old.token, b).expect(200); // from b's cache
      await whoami(old.token, a).expect(200); // and a's
      const next = await rolled(old.id, { graceSeconds: 0 }, ADMIN_TOKEN, round % 2 === 0 ? a : b);
      await whoami(old.token, b).expect(401, UNAUTHORIZED);
      await whoami(old.token, a).expect(401, UNAUTHORIZED);
      await whoami(next.token, b).expect(200);
    }
  });

  it('lets a token roll itself; with a grace of 0 it is refused on its next request', async () => {
    const self = await mint({ scopes: ['org-tokens:write', 'admin:read'] });
    const next = await rolled(self.id, { graceSeconds: 0 }, self.token);
    expect(next.createdBy).toBe(`org-token:${self.prefix}`);
    await as(self.token).get('/api/v1/org/tokens').expect(401, UNAUTHORIZED);
    await as(next.token).get('/api/v1/org/tokens').expect(200);
  });

  it('revoking the old token during its grace ends the grace at once', async () => {
    const old = await mint();
    await rolled(old.id, { graceSeconds: 3600 });
    await whoami(old.token, b).expect(200);
    await as(ADMIN_TOKEN).delete(`/api/v1/org/tokens/${old.id}`).expect(200);
    await whoami(old.token, b).expect(401, UNAUTHORIZED);
    const [row] = await suite.db.query<{ revoked_reason: string | null }>(
      'SELECT revoked_reason FROM org_tokens WHERE id = $1',
      [old.id],
    );
    expect(row).toEqual({ revoked_reason: 'admin' });
  });

  it('revoking the old token after its grace answers 200 and changes nothing: it stays rolled away', async () => {
    const old = await mint();
    await rolled(old.id, { graceSeconds: 0 });
    const res = await as(ADMIN_TOKEN).delete(`/api/v1/org/tokens/${old.id}`).expect(200);
    expect(res.body).toEqual({ id: old.id, revoked: true });
    const rows = await suite.db.query<{ revoked_at: Date | null; revoked_reason: string | null }>(
      'SELECT revoked_at, revoked_reason FROM org_tokens WHERE id = $1',
      [old.id],
    );
    expect(rows).toEqual([{ revoked_at: null, revoked_reason: null }]);
    const audited = await suite.db.query(
      `SELECT 1 FROM audit_events WHERE action = 'org_token.revoke' AND target_id = $1`,
      [old.id],
    );
    expect(audited).toEqual([]);
  });

  describe('what cannot be rolled: 409 conflict', () => {
    it('a revoked token', async () => {
      const old = await mint();
      await as(ADMIN_TOKEN).delete(`/api/v1/org/tokens/${old.id}`).expect(200);
      const res = await roll(old.id, {}).expect(409);
      expect(res.body).toMatchObject({
        error: { type: 'conflict', status: 409, message: expect.stringMatching(/revoked/) },
      });
    });

    it('an expired token', async () => {
      const old = await mint({ expiresAt: new Date(Date.now() + 3600_000).toISOString() });
      await expireOrgToken(suite.db, old.id);
      const res = await roll(old.id, {}).expect(409);
      expect(res.body).toMatchObject({
        error: { type: 'conflict', status: 409, message: expect.stringMatching(/expired/) },
      });
    });

    it('a token already rolled (in its grace or after it); its successor rolls', async () => {
      const old = await mint();
      const next = await rolled(old.id, { graceSeconds: 600 });
      const again = await roll(old.id, { graceSeconds: 600 }).expect(409);
      expect(again.body).toMatchObject({
        error: { type: 'conflict', status: 409, message: expect.stringMatching(/already rolled/) },
      });
      await endOrgTokenGrace(suite.db, old.id);
      await roll(old.id, {}).expect(409);
      const third = await rolled(next.id, { graceSeconds: 0 });
      expect(third.previous.id).toBe(next.id);
      expect(await successors(old.id)).toEqual([next.id]);
    });

    it('of concurrent rolls of one token, exactly one wins, on one instance', async () => {
      const old = await mint();
      const results = await concurrently(8, () => roll(old.id, { graceSeconds: 60 }));
      results.forEach((r) => r.status === 201 && secrets.push((r.body as Rolled).token));
      expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
      const winner = results.find((r) => r.status === 201)!.body as Rolled;
      expect(await successors(old.id)).toEqual([winner.id]);
      const rows = await suite.db.query(
        `SELECT 1 FROM audit_events WHERE action = 'org_token.roll' AND target_id = $1`,
        [old.id],
      );
      expect(rows).toHaveLength(1);
    });

    it('of concurrent rolls of one token on two instances, exactly one wins', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const old = await mint();
        const results = await concurrently(4, (i) =>
          roll(old.id, { graceSeconds: 60 }, ADMIN_TOKEN, i % 2 ? a : b),
        );
        results.forEach((r) => r.status === 201 && secrets.push((r.body as Rolled).token));
        expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
        expect(await successors(old.id)).toHaveLength(1);
        const minted = await suite.db.query(
          `SELECT 1 FROM audit_events WHERE action = 'org_token.mint' AND metadata->>'rolledFrom' = $1`,
          [old.id],
        );
        expect(minted).toHaveLength(1);
      }
    });
  });

  describe('who may roll', () => {
    it('a holder of `org-tokens:write` rolls a token of its own scopes, not one with more: 403 naming them', async () => {
      const writer = await mint({ scopes: ['org-tokens:write'] });
      const peer = await mint({ scopes: ['org-tokens:write'] });
      expect((await rolled(peer.id, { graceSeconds: 60 }, writer.token)).scopes).toEqual([
        'org-tokens:write',
      ]);
      for (const scopes of [['admin'], ['org-tokens:write', 'audit:read']] as AdminScope[][]) {
        const stronger = await mint({ scopes });
        const res = await roll(stronger.id, { graceSeconds: 0 }, writer.token).expect(403);
        expect(res.body).toEqual({
          error: {
            type: 'forbidden',
            status: 403,
            message: expect.stringMatching(/scopes it does not hold/),
          },
        });
        expect(await successors(stronger.id)).toEqual([]);
        await whoami(stronger.token).expect(200);
      }
    });

    it('a token with `admin:read` cannot roll, not even itself', async () => {
      const reader = await mint({ scopes: ['admin:read'] });
      const res = await roll(reader.id, { graceSeconds: 0 }, reader.token).expect(403);
      expect(res.body).toMatchObject({
        error: { type: 'forbidden', status: 403, message: expect.stringMatching(/org-tokens:write/) },
      });
      await whoami(reader.token).expect(200);
    });

    it('a session of an org admin rolls any token', async () => {
      const t = await suite.boot({ ADMIN_TOKEN, ORG_ID: 'org-roll', RATE_LIMIT_ADMIN: '100000/60s' });
      const session = await suite.session.token({ sub: 'roller', org_id: 'org-roll' });
      const old = await mint({ scopes: ['admin'] });
      const res = await request(t.http)
        .post(`/api/v1/org/tokens/${old.id}/roll`)
        .set('authorization', `Bearer ${session}`)
        .send({ graceSeconds: 0 })
        .expect(201);
      secrets.push((res.body as Rolled).token);
      expect(res.body).toMatchObject({ scopes: ['admin'], createdBy: 'session:roller' });
    });
  });

  it('writes a roll row on the old token and a mint row on the new one, without secrets', async () => {
    const old = await mint({ name: 'audited roll', scopes: ['admin:read'] });
    const next = await rolled(old.id, { graceSeconds: 120 });
    const rows = await suite.db.query<Record<string, unknown>>(
      `SELECT actor, action, target_type, target_id, metadata FROM audit_events
        WHERE target_id IN ($1, $2) AND action IN ('org_token.roll', 'org_token.mint') ORDER BY action, target_id = $1`,
      [old.id, next.id],
    );
    expect(rows).toEqual([
      {
        actor: 'admin-token',
        action: 'org_token.mint',
        target_type: 'org_token',
        target_id: next.id,
        metadata: {
          prefix: next.prefix,
          name: 'audited roll',
          expiresAt: null,
          scopes: ['admin:read'],
          mintedFor: 'admin-token',
          rolledFrom: old.id,
        },
      },
      {
        actor: 'admin-token',
        action: 'org_token.mint',
        target_type: 'org_token',
        target_id: old.id,
        metadata: {
          prefix: old.prefix,
          name: 'audited roll',
          expiresAt: null,
          scopes: ['admin:read'],
          mintedFor: 'admin-token',
        },
      },
      {
        actor: 'admin-token',
        action: 'org_token.roll',
        target_type: 'org_token',
        target_id: old.id,
        metadata: {
          successorId: next.id,
          successorPrefix: next.prefix,
          graceSeconds: 120,
          graceEndsAt: next.previous.graceEndsAt,
        },
      },
    ]);
    expect(JSON.stringify(rows)).not.toContain(next.token);
  });

  describe('bad requests', () => {
    it('answers an unknown id with 404 and a malformed one with 400', async () => {
      const unknown = await roll(UUID, {}).expect(404);
      expect(unknown.body).toMatchObject({ error: { type: 'not_found', status: 404 } });
      const malformed = await roll('not-a-uuid', {}).expect(400);
      expect(malformed.body).toMatchObject({
        error: { type: 'validation_failed', details: [{ field: 'id' }] },
      });
    });

    it.each([
      ['a negative grace', { graceSeconds: -1 }],
      ['a grace over 30 days', { graceSeconds: 2_592_001 }],
      ['a fractional grace', { graceSeconds: 1.5 }],
      ['a grace as a string', { graceSeconds: '60' }],
      ['a null grace', { graceSeconds: null }],
      ['an unknown field', { graceSeconds: 60, scopes: ['admin'] }],
      ['a JSON array body', [60]],
    ])('refuses %s with 400 validation_failed, rolling nothing', async (_label, body) => {
      const old = await mint();
      const res = await roll(old.id, body).expect(400);
      expect(res.body).toMatchObject({ error: { type: 'validation_failed', status: 400 } });
      expect(await successors(old.id)).toEqual([]);
    });

    it('accepts the longest grace, 30 days', async () => {
      const old = await mint();
      await rolled(old.id, { graceSeconds: 2_592_000 });
    });

    it('answers an oversized body with 413', async () => {
      const old = await mint();
      await roll(old.id)
        .set('content-type', 'application/json')
        .send(JSON.stringify({ graceSeconds: 1, pad: 'x'.repeat(70 * 1024) }))
        .expect(413);
    });

    it('requires an admin credential: none, or a wrong one, is the one 401', async () => {
      const old = await mint();
      await request(a.http).post(`/api/v1/org/tokens/${old.id}/roll`).send({}).expect(401, UNAUTHORIZED);
      await roll(old.id, {}, 'kso_00000000000000000000000000000000000000').expect(401, UNAUTHORIZED);
      const user = await suite.session.token({ sub: 'not-an-admin', org_id: 'elsewhere' });
      const withOrg = await suite.boot({ ADMIN_TOKEN, ORG_ID: 'org-roll-401' });
      await request(withOrg.http)
        .post(`/api/v1/org/tokens/${old.id}/roll`)
        .set('authorization', `Bearer ${user}`)
        .send({})
        .expect(401, UNAUTHORIZED);
      expect(await successors(old.id)).toEqual([]);
    });
  });

  it('counts against the mint bucket: mints and rolls share 10 an hour per client IP', async () => {
    const limited = await suite.boot({ ADMIN_TOKEN, RATE_LIMIT_ORG_TOKEN_MINT: '2/1h' });
    const post = (url: string) =>
      request(limited.http).post(url).set('authorization', `Bearer ${ADMIN_TOKEN}`).send({});
    const first = await post('/api/v1/org/tokens').expect(201);
    secrets.push((first.body as Minted).token);
    const second = await post(`/api/v1/org/tokens/${(first.body as Minted).id}/roll`).expect(201);
    secrets.push((second.body as Rolled).token);
    const third = await post(`/api/v1/org/tokens/${(second.body as Rolled).id}/roll`).expect(429);
    expect(third.headers['retry-after']).toEqual(expect.any(String));
  });
});
