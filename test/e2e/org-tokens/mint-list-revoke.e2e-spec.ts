import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import request from 'supertest';
import { OrgTokensService } from 'src/org-tokens/org-tokens.service';
import { checksumOf } from 'src/crypto/checksum';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { deleteOrgTokens, expireOrgToken, orgTokens } from 'test/helpers/factories';
import { UNAUTHORIZED } from 'test/helpers/http';
import { spyOnQueries } from 'test/helpers/query-spy';

const ADMIN_TOKEN = 'break-glass-admin-token-for-org-token-tests';

interface Minted {
  id: string;
  name: string | null;
  prefix: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  token: string;
  warning: string;
}

describe('org tokens: mint, list, revoke (POST/GET/DELETE /api/v1/org/tokens)', () => {
  const suite = e2eSuite({ issuers: false });
  let t: TestApp;
  const secrets: string[] = [ADMIN_TOKEN];
  let nextIp = 1;

  // TRUST_PROXY is on so each request can come from its own client IP: these tests mint far more than the
  // 10-per-hour mint bucket allows one address (that bucket has its own suite).
  const freshIp = (): string => `198.51.100.${nextIp++}`;
  const as = (credential: string) => ({
    get: (url: string) =>
      request(t.http).get(url).set('authorization', `Bearer ${credential}`).set('x-forwarded-for', freshIp()),
    post: (url: string) =>
      request(t.http)
        .post(url)
        .set('authorization', `Bearer ${credential}`)
        .set('x-forwarded-for', freshIp()),
    delete: (url: string) =>
      request(t.http)
        .delete(url)
        .set('authorization', `Bearer ${credential}`)
        .set('x-forwarded-for', freshIp()),
  });
  const admin = () => as(ADMIN_TOKEN);

  async function mint(body: object = {}, credential = ADMIN_TOKEN): Promise<Minted> {
    const res = await as(credential).post('/api/v1/org/tokens').send(body).expect(201);
    const minted = res.body as Minted;
    secrets.push(minted.token);
    return minted;
  }

  beforeAll(async () => {
    t = await suite.start({ ADMIN_TOKEN, TRUST_PROXY: 'true' });
  });

  suite.beforeTeardown(async () => {
    await t?.app.get(OrgTokensService).settle();
    if (t) expect(t.logs.leaked(secrets)).toEqual([]);
  });

  describe('mint', () => {
    it('returns the plaintext once, with prefix = its first 12 characters, a warning and no-store', async () => {
      const res = await admin()
        .post('/api/v1/org/tokens')
        .send({ name: 'ci deploy', expiresAt: '2099-01-01T00:00:00Z' })
        .expect(201);
      const body = res.body as Minted;
      secrets.push(body.token);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        name: 'ci deploy',
        prefix: body.token.slice(0, 12),
        scopes: ['admin'],
        createdBy: 'admin-token',
        createdAt: expect.any(String),
        expiresAt: '2099-01-01T00:00:00.000Z',
        graceEndsAt: null,
        successorId: null,
        token: expect.stringMatching(/^kso_[0-9A-Za-z]{38}$/),
        warning: expect.stringMatching(/not be shown again/),
      });
      const listed = await admin().get('/api/v1/org/tokens').expect(200);
      expect(JSON.stringify(listed.body)).not.toContain(body.token);
    });

    it('stores only the SHA-256 of the token, never the plaintext', async () => {
      const minted = await mint({ name: 'hash check' });
      const rows = await suite.db.query<Record<string, unknown>>('SELECT * FROM org_tokens WHERE id = $1', [
        minted.id,
      ]);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.token_hash).toBe(createHash('sha256').update(minted.token).digest('hex'));
      expect(JSON.stringify(rows)).not.toContain(minted.token.slice(12));
    });

    it('accepts an empty body (no name, no expiry): `{}` or an empty JSON request', async () => {
      const empty = await mint({});
      expect(empty).toMatchObject({ name: null, expiresAt: null });
      const none = await admin()
        .post('/api/v1/org/tokens')
        .set('content-type', 'application/json')
        .expect(201);
      secrets.push((none.body as Minted).token);
      expect(none.body).toMatchObject({ name: null, expiresAt: null });
      // No body and no content type at all (curl -X POST): the same as `{}`.
      const bare = await admin().post('/api/v1/org/tokens').set('content-length', '0').expect(201);
      secrets.push((bare.body as Minted).token);
      expect(bare.body).toMatchObject({ name: null, expiresAt: null });
    });

    it.each([
      ['a name over 100 characters', { name: 'x'.repeat(101) }],
      ['a non-string name', { name: 42 }],
      ['an unknown field', { name: 'a', scope: 'admin' }],
      ['a past expiresAt', { expiresAt: '2001-01-01T00:00:00Z' }],
      ['an unparseable expiresAt', { expiresAt: 'next tuesday' }],
      ['an impossible date', { expiresAt: '2099-02-30T00:00:00Z' }],
      ['a date-time without a time zone', { expiresAt: '2099-01-01T00:00:00' }],
      ['an expiry after year 9999', { expiresAt: '+010000-01-01T00:00:00Z' }],
      ['a JSON array body', [1, 2]],
    ])('refuses %s with 400 validation_failed', async (_label, body) => {
      const res = await admin().post('/api/v1/org/tokens').send(body).expect(400);
      expect(res.body).toMatchObject({ error: { type: 'validation_failed', status: 400 } });
    });

    it('accepts a 100-character name', async () => {
      const minted = await mint({ name: 'n'.repeat(100) });
      expect(minted.name).toHaveLength(100);
    });

    it('answers an oversized body with 413', async () => {
      const res = await admin()
        .post('/api/v1/org/tokens')
        .set('content-type', 'application/json')
        .send(JSON.stringify({ name: 'x'.repeat(70 * 1024) }))
        .expect(413);
      expect(res.body).toMatchObject({ error: { type: 'payload_too_large', status: 413 } });
    });

    it('lets a token mint a token, recorded as created by org-token:<prefix>', async () => {
      const parent = await mint({ name: 'parent' });
      const child = await mint({ name: 'child' }, parent.token);
      expect(child.createdBy).toBe(`org-token:${parent.prefix}`);
    });

    it('writes an audit row in the same transaction, without the secret', async () => {
      const minted = await mint({ name: 'audited' });
      const rows = await suite.db.query<Record<string, unknown>>(
        `SELECT * FROM audit_events WHERE action = 'org_token.mint' AND target_id = $1`,
        [minted.id],
      );
      expect(rows).toEqual([
        expect.objectContaining({
          actor: 'admin-token',
          target_type: 'org_token',
          ip: expect.stringMatching(/^198\.51\.100\./),
          metadata: {
            prefix: minted.prefix,
            name: 'audited',
            expiresAt: null,
            scopes: ['admin'],
            mintedFor: 'admin-token',
          },
        }),
      ]);
      expect(JSON.stringify(rows)).not.toContain(minted.token);
    });
  });

  describe('list', () => {
    it('lists live tokens newest first, without hashes or plaintext', async () => {
      const a = await mint({ name: 'list-a' });
      const b = await mint({ name: 'list-b' });
      const revoked = await mint({ name: 'list-revoked' });
      await admin().delete(`/api/v1/org/tokens/${revoked.id}`).expect(200);
      await expireOrgToken(suite.db, a.id, '1 minute');

      const res = await admin().get('/api/v1/org/tokens').expect(200);
      const tokens = (res.body as { tokens: Record<string, unknown>[] }).tokens;
      const ids = tokens.map((x) => x.id);
      expect(ids).toContain(b.id);
      expect(ids).not.toContain(a.id);
      expect(ids).not.toContain(revoked.id);
      const created = tokens.map((x) => Date.parse(x.createdAt as string));
      expect([...created].sort((x, y) => y - x)).toEqual(created);
      for (const token of tokens) {
        expect(Object.keys(token).sort()).toEqual(
          [
            'createdAt',
            'createdBy',
            'expiresAt',
            'graceEndsAt',
            'id',
            'lastUsedAt',
            'name',
            'prefix',
            'scopes',
            'successorId',
          ].sort(),
        );
      }
    });

    it('returns at most 500 tokens', async () => {
      // Never sent anywhere, so not added to the leak scan's secrets.
      await orgTokens(t.app, 510, { createdBy: 'test', name: 'bulk' });
      const res = await admin().get('/api/v1/org/tokens').expect(200);
      expect((res.body as { tokens: unknown[] }).tokens).toHaveLength(500);
      await deleteOrgTokens(t.app, 'test');
    });

    it('bumps lastUsedAt when a token is used', async () => {
      const minted = await mint({ name: 'used' });
      const before = await suite.db.query<{ last_used_at: Date | null }>(
        'SELECT last_used_at FROM org_tokens WHERE id = $1',
        [minted.id],
      );
      expect(before[0]!.last_used_at).toBeNull();
      await as(minted.token).get('/api/v1/admin/whoami').expect(200);
      await t.app.get(OrgTokensService).settle();
      const res = await admin().get('/api/v1/org/tokens').expect(200);
      const listed = (res.body as { tokens: { id: string; lastUsedAt: string | null }[] }).tokens.find(
        (x) => x.id === minted.id,
      );
      expect(listed?.lastUsedAt).toEqual(expect.any(String));
    });

    it('skips the lastUsedAt write while requests queue for a pooled connection', async () => {
      const minted = await mint({ name: 'busy pool' });
      const pool = (t.app.get(DataSource).driver as unknown as { master: Pool }).master;
      const busy = jest.spyOn(pool, 'waitingCount', 'get').mockReturnValue(3);
      try {
        await as(minted.token).get('/api/v1/admin/whoami').expect(200);
        await t.app.get(OrgTokensService).settle();
      } finally {
        busy.mockRestore();
      }
      const lastUsed = async () =>
        (
          await suite.db.query<{ last_used_at: Date | null }>(
            'SELECT last_used_at FROM org_tokens WHERE id = $1',
            [minted.id],
          )
        )[0]!.last_used_at;
      expect(await lastUsed()).toBeNull();
      // Not remembered as written: the next use, with the pool idle, records it.
      await as(minted.token).get('/api/v1/admin/whoami').expect(200);
      await t.app.get(OrgTokensService).settle();
      expect(await lastUsed()).toBeInstanceOf(Date);
    });

    it('coalesces lastUsedAt writes: a burst of uses writes once', async () => {
      const minted = await mint({ name: 'burst' });
      const service = t.app.get(OrgTokensService);
      const queries = spyOnQueries();
      try {
        for (let i = 0; i < 5; i++) await as(minted.token).get('/api/v1/admin/whoami').expect(200);
        await service.settle();
        const updates = queries
          .statements()
          .filter((sql) => sql.startsWith('UPDATE org_tokens SET last_used_at'));
        expect(updates).toHaveLength(1);
      } finally {
        queries.restore();
      }
    });
  });

  describe('revoke', () => {
    it('revokes (200), is idempotent (200 again), and the token fails on the very next request', async () => {
      const minted = await mint({ name: 'to revoke' });
      await as(minted.token).get('/api/v1/admin/whoami').expect(200);
      const first = await admin().delete(`/api/v1/org/tokens/${minted.id}`).expect(200);
      expect(first.body).toEqual({ id: minted.id, revoked: true });
      const again = await admin().delete(`/api/v1/org/tokens/${minted.id}`).expect(200);
      expect(again.body).toEqual({ id: minted.id, revoked: true });
      const res = await as(minted.token).get('/api/v1/admin/whoami').expect(401);
      expect(res.body).toEqual(UNAUTHORIZED);
    });

    it('writes one audit row for the revocation, none for the idempotent repeat', async () => {
      const minted = await mint({ name: 'revoke audit' });
      await admin().delete(`/api/v1/org/tokens/${minted.id}`).expect(200);
      await admin().delete(`/api/v1/org/tokens/${minted.id}`).expect(200);
      const rows = await suite.db.query<Record<string, unknown>>(
        `SELECT actor, metadata FROM audit_events WHERE action = 'org_token.revoke' AND target_id = $1`,
        [minted.id],
      );
      expect(rows).toEqual([
        { actor: 'admin-token', metadata: { prefix: minted.prefix, revokedReason: 'admin' } },
      ]);
      const [row] = await suite.db.query<{ revoked_reason: string | null }>(
        'SELECT revoked_reason FROM org_tokens WHERE id = $1',
        [minted.id],
      );
      expect(row).toEqual({ revoked_reason: 'admin' });
    });

    it('concurrent revocations all answer 200 and write exactly one audit row', async () => {
      const minted = await mint({ name: 'race' });
      const results = await Promise.all(
        Array.from({ length: 8 }, () => admin().delete(`/api/v1/org/tokens/${minted.id}`)),
      );
      expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
      const rows = await suite.db.query(
        `SELECT 1 FROM audit_events WHERE action = 'org_token.revoke' AND target_id = $1`,
        [minted.id],
      );
      expect(rows).toHaveLength(1);
    });

    it('answers an unknown id with 404 and a malformed id with 400', async () => {
      const unknown = await admin()
        .delete('/api/v1/org/tokens/3f0c8a4e-8a5b-4c1e-9d2f-0a1b2c3d4e5f')
        .expect(404);
      expect(unknown.body).toMatchObject({ error: { type: 'not_found', status: 404 } });
      const malformed = await admin().delete('/api/v1/org/tokens/not-a-uuid').expect(400);
      expect(malformed.body).toMatchObject({
        error: {
          type: 'validation_failed',
          status: 400,
          details: [{ field: 'id', messages: ['id must be a UUID'] }],
        },
      });
    });

    it('lets a token revoke itself, after which it is refused', async () => {
      const minted = await mint({ name: 'self' });
      await as(minted.token).delete(`/api/v1/org/tokens/${minted.id}`).expect(200);
      await as(minted.token).get('/api/v1/org/tokens').expect(401);
    });

    it('concurrent mints all succeed with distinct tokens', async () => {
      const results = await Promise.all(
        Array.from({ length: 6 }, () => admin().post('/api/v1/org/tokens').send({ name: 'parallel' })),
      );
      expect(results.map((r) => r.status)).toEqual(Array(6).fill(201));
      const tokens = results.map((r) => (r.body as Minted).token);
      secrets.push(...tokens);
      expect(new Set(tokens).size).toBe(6);
    });
  });

  describe('validation without the database', () => {
    it('refuses a token with a checksum typo without a single database query', async () => {
      const minted = await mint({ name: 'typo' });
      await t.app.get(OrgTokensService).settle();
      // One character of the random part changed: same shape, wrong checksum.
      const i = 10;
      const typo =
        minted.token.slice(0, i) + (minted.token[i] === 'a' ? 'b' : 'a') + minted.token.slice(i + 1);
      const unknownBody = 'kso_' + 'Z'.repeat(32);
      const wellFormedUnknown = unknownBody + checksumOf(unknownBody);

      const queries = spyOnQueries();
      try {
        const res = await as(typo).get('/api/v1/admin/whoami').expect(401);
        expect(res.body).toEqual(UNAUTHORIZED);
        expect(queries.statements()).toEqual([]);

        // The counter does see the lookup a well-formed token costs.
        await as(wellFormedUnknown).get('/api/v1/admin/whoami').expect(401);
        expect(queries.statements()).toHaveLength(1);
      } finally {
        queries.restore();
      }
    });

    it.each([
      ['truncated', (tok: string) => tok.slice(0, -1)],
      ['extended', (tok: string) => `${tok}x`],
      ['wrong prefix', (tok: string) => `ksx_${tok.slice(4)}`],
      ['lower-cased', (tok: string) => tok.toLowerCase()],
    ])('refuses a %s token with the same 401', async (_label, mangle) => {
      const minted = await mint({ name: 'mangle' });
      const res = await as(mangle(minted.token)).get('/api/v1/admin/whoami').expect(401);
      expect(res.body).toEqual(UNAUTHORIZED);
    });
  });

  it('requires admin credentials on every route', async () => {
    for (const [method, url] of [
      ['post', '/api/v1/org/tokens'],
      ['get', '/api/v1/org/tokens'],
      ['delete', '/api/v1/org/tokens/3f0c8a4e-8a5b-4c1e-9d2f-0a1b2c3d4e5f'],
    ] as const) {
      const none = await request(t.http)[method](url).expect(401);
      expect(none.body).toEqual(UNAUTHORIZED);
      const wrong = await as('not-the-admin-token')[method](url).expect(401);
      expect(wrong.body).toEqual(UNAUTHORIZED);
    }
  });
});
