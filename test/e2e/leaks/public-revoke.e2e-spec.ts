import request from 'supertest';
import { generateApiKey } from 'src/api-keys/api-key-format';
import { ApiKeyRevocations } from 'src/api-keys/api-key-revocations';
import { generateOrgToken } from 'src/org-tokens/org-token-format';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { apiKey, mintOrgToken, revokeApiKey } from 'test/helpers/factories';
import { FULL_ADMIN_TOKEN } from 'test/helpers/full-app';
import { resolveKey } from 'test/helpers/http';
import { m2mToken } from 'test/helpers/issuers';
import { spyOnQueries } from 'test/helpers/query-spy';
import { plaintextInTables } from 'test/helpers/table-scan';
import { concurrently, eventually } from 'test/helpers/waiting';
import type { Server } from 'node:http';

jest.setTimeout(60_000);

const REVOKE_PATH = '/api/v1/keys/revoke';
const revoke = (http: Server, body: unknown) =>
  request(http)
    .post(REVOKE_PATH)
    .send(body as object);

/**
 * Issue 21, the public revoke endpoint: anyone holding a keysmith secret kills it, RFC 7009 style. The answer
 * is 200 `{}` whatever the key was, and so is the work: the same statements run for a live key, a revoked
 * one and garbage (checked on the SQL the app sends), and each request leaves one audit row.
 */
describe('public revoke: POST /api/v1/keys/revoke', () => {
  const suite = e2eSuite();
  let t: TestApp;
  let resolver: string;
  const secrets = new Set<string>([FULL_ADMIN_TOKEN]);
  const env = { ADMIN_TOKEN: FULL_ADMIN_TOKEN, RATE_LIMIT_PUBLIC_REVOKE: '100000/60s' };

  const liveKey = async (sub = 'reporting-dev'): Promise<string> => {
    const { secret } = await apiKey(t.app, sub, { label: 'found' });
    secrets.add(secret);
    return secret;
  };
  const orgToken = async (): Promise<{ id: string; token: string }> => {
    const body = await mintOrgToken(t.http, `Bearer ${FULL_ADMIN_TOKEN}`, { name: 'found' });
    secrets.add(body.token);
    return body;
  };
  const auditRows = (action: string) =>
    suite.db.query<{ actor: string; ip: string | null; target_id: string | null; metadata: object }>(
      'SELECT actor, ip, target_id, metadata FROM audit_events WHERE action = $1 ORDER BY at, id',
      [action],
    );
  const auditCount = async (): Promise<number> =>
    Number((await suite.db.query<{ n: string }>('SELECT count(*) AS n FROM audit_events'))[0]!.n);

  beforeAll(async () => {
    t = await suite.boot(env);
    resolver = await m2mToken(suite.m2m, 'revoke-svc', 'apikeys:resolve');
  });

  suite.beforeTeardown(async () => {
    expect(t.logs.leaked(secrets)).toEqual([]);
    expect(await plaintextInTables(suite.db, [...secrets])).toEqual([]);
  });

  it('revokes a live API key (reported, audited with the client IP): it resolves 401 at once', async () => {
    const key = await liveKey();
    const bystander = await liveKey();
    expect((await resolveKey(t.http, resolver, key)).status).toBe(200);
    const res = await revoke(t.http, { key }).expect(200);
    expect(res.body).toEqual({});
    expect(res.headers['cache-control']).toBe('no-store');
    expect((await resolveKey(t.http, resolver, key)).status).toBe(401);
    expect((await resolveKey(t.http, resolver, bystander)).status).toBe(200);
    const [row] = await suite.db.query<{ revoked_reason: string }>(
      'SELECT revoked_reason FROM api_keys WHERE key_id = $1',
      [key.slice(4, 20)],
    );
    expect(row!.revoked_reason).toBe('reported');
    expect((await auditRows('api_key.revoke')).at(-1)).toEqual({
      actor: 'anonymous',
      ip: expect.stringMatching(/127\.0\.0\.1$/) as unknown,
      target_id: expect.any(String) as unknown,
      metadata: { keyPrefix: key.slice(0, 12), reason: 'reported' },
    });
  });

  it('revokes a live org token', async () => {
    const token = await orgToken();
    const whoami = () =>
      request(t.http).get('/api/v1/admin/whoami').set('authorization', `Bearer ${token.token}`);
    await whoami().expect(200);
    await revoke(t.http, { key: token.token }).expect(200, {});
    await whoami().expect(401);
    const [row] = await suite.db.query<{ revoked_reason: string }>(
      'SELECT revoked_reason FROM org_tokens WHERE id = $1',
      [token.id],
    );
    expect(row!.revoked_reason).toBe('reported');
  });

  it('answers garbage, unknown and already revoked keys the same 200 {}, revoking nothing else', async () => {
    const bystander = await liveKey();
    const revoked = await liveKey();
    await revokeApiKey(t.app, revoked.slice(4, 20));
    const before = await auditCount();
    const presented = [
      'garbage',
      '',
      'x'.repeat(1024),
      generateApiKey().plaintext,
      generateOrgToken().token,
      `ksk_${'0'.repeat(16)}_${'0'.repeat(64)}_000000`,
      revoked,
      'ghp_0123456789abcdefghijABCDEFGHIJ012345',
    ];
    for (const key of presented) {
      const res = await revoke(t.http, { key });
      expect({ key: key.slice(0, 8), status: res.status, body: res.body as unknown }).toEqual({
        key: key.slice(0, 8),
        status: 200,
        body: {},
      });
    }
    // One audit row each: the `unmatched` one, with who asked and from where.
    expect(await auditCount()).toBe(before + presented.length);
    expect((await auditRows('public_revoke.unmatched')).at(-1)).toMatchObject({
      actor: 'anonymous',
      metadata: {},
    });
    expect((await resolveKey(t.http, resolver, bystander)).status).toBe(200);
  });

  it('does the same work for a live key, a revoked one and garbage: the same statements, one audit row each', async () => {
    const live = await liveKey();
    const revoked = await liveKey();
    await revokeApiKey(t.app, revoked.slice(4, 20));
    const statementsOf = async (key: string): Promise<string[]> => {
      const spy = spyOnQueries();
      try {
        await revoke(t.http, { key }).expect(200, {});
        // The request's own statements: the announcement to the other instances is the one a revocation adds;
        // last-use writes of earlier resolves (and other timers) run in the background whenever they are due.
        return spy
          .statements()
          .filter((s) => /api_keys|org_tokens|audit_events|^(START|BEGIN|COMMIT|ROLLBACK)/i.test(s))
          .filter((s) => !s.includes('pg_notify') && !s.includes('last_used_at'));
      } finally {
        spy.restore();
      }
    };
    const forLive = await statementsOf(live);
    const forRevoked = await statementsOf(revoked);
    const forGarbage = await statementsOf('garbage');
    const forToken = await statementsOf(generateOrgToken().token);
    expect(forLive.length).toBeGreaterThanOrEqual(4);
    expect(forRevoked).toEqual(forLive);
    expect(forGarbage).toEqual(forLive);
    expect(forToken).toEqual(forLive);
  });

  it('refuses a malformed request with 400 (not JSON, key missing, not a string, over 1024 characters, unknown fields)', async () => {
    const before = await auditCount();
    const bodies: [string, string][] = [
      ['application/json', '{bad'],
      ['application/json', '{}'],
      ['application/json', ''],
      ['application/json', '{"key":42}'],
      ['application/json', '{"key":null}'],
      ['application/json', '{"key":["a"]}'],
      ['application/json', JSON.stringify({ key: 'x'.repeat(1025) })],
      ['application/json', '{"key":"a","token":"b"}'],
      ['text/plain', 'ksk_whatever'],
    ];
    for (const [type, body] of bodies) {
      const res = await request(t.http).post(REVOKE_PATH).set('content-type', type).send(body);
      expect({ body: body.slice(0, 30), status: res.status }).toEqual({
        body: body.slice(0, 30),
        status: 400,
      });
      expect(res.body).toMatchObject({ error: { type: 'validation_failed', status: 400 } });
    }
    expect(await auditCount()).toBe(before);
  });

  it('revokes a key reported concurrently once (one audit row)', async () => {
    const key = await liveKey();
    const before = (await auditRows('api_key.revoke')).length;
    const answers = await concurrently(5, () => revoke(t.http, { key }));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect((await auditRows('api_key.revoke')).length).toBe(before + 1);
  });

  it('on two instances: revoked on one, refused by the other at its next request', async () => {
    const a = await suite.boot(env);
    const b = await suite.boot(env);
    await eventually(() => a.app.get(ApiKeyRevocations).listening && b.app.get(ApiKeyRevocations).listening);
    const key = await liveKey();
    expect((await resolveKey(b.http, resolver, key)).status).toBe(200);
    await revoke(a.http, { key }).expect(200, {});
    expect((await resolveKey(b.http, resolver, key)).status).toBe(401);
  });
});

describe('public revoke: rate limited per IP', () => {
  const suite = e2eSuite();

  it('answers 429 with Retry-After after 10 requests a minute (RATE_LIMIT_PUBLIC_REVOKE default)', async () => {
    const t = await suite.boot();
    for (let i = 0; i < 10; i++) await revoke(t.http, { key: `garbage-${i}` }).expect(200, {});
    const limited = await revoke(t.http, { key: 'garbage-11' }).expect(429);
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
    expect(limited.body).toMatchObject({ error: { type: 'rate_limited', status: 429 } });
    // The limit runs before validation: a body without a key is counted (and refused) like any other.
    await revoke(t.http, {}).expect(429);
  });
});
