import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { decode, verify, type JwtPayload } from 'jsonwebtoken';
import request from 'supertest';
import { generateApiKey } from 'src/api-keys/api-key-format';
import { ApiKeyResolutionService } from 'src/api-key-resolution/api-key-resolution.service';
import { ApiKeyUsageRecorder } from 'src/api-key-resolution/api-key-usage-recorder';
import type { TestApp } from 'test/helpers/app';
import type { TestDatabase } from 'test/helpers/database';
import { internalSuite } from 'test/helpers/internal-suite';
import type { TestIssuer } from 'test/helpers/issuer';
import { m2mToken, provision, resolveKey, type Provisioned } from 'test/helpers/m2m';

interface ResolveBody {
  keyId: string;
  user: { id: string; externalId: string; email: string | null; name: string | null };
  project: { id: string; name: string };
  allowedOrigins: string[];
  expiresAt: string | null;
  token: string;
  tokenExpiresAt: string;
}

interface Jwks {
  keys: (JsonWebKey & { kid: string; alg: string; use: string })[];
}

describe('internal: POST /api/v1/internal/api-keys/resolve', () => {
  const suite = internalSuite();
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
    [a, b] = await suite.bootPair();
    provisioner = await m2mToken(m2m, 'provisioner', 'provision:apikey');
    resolver = await m2mToken(m2m, 'gateway', 'apikeys:resolve');
  });

  afterAll(async () => {
    // Every app of the file logs into one capture (test/helpers/app.ts).
    expect(a.logs.leaked(secrets)).toEqual([]);
  });

  const newKey = async (
    externalId: string,
    extra: { name?: string; keyName?: string } = {},
  ): Promise<Provisioned> => {
    const p = await provision(a.http, provisioner, { externalId, ...extra });
    secrets.push(p.apiKey);
    return p;
  };
  const invalid = { error: { type: 'invalid_api_key', status: 401, message: 'Invalid API key.' } };
  const jwksOf = async (t: TestApp): Promise<Jwks> =>
    (await request(t.http).get('/.well-known/jwks.json').expect(200)).body as Jwks;
  const verifyWith = (jwks: Jwks, token: string): JwtPayload => {
    const kid = decode(token, { complete: true })?.header.kid;
    const jwk = jwks.keys.find((k) => k.kid === kid);
    if (!jwk) throw new Error('no key for kid');
    return verify(token, createPublicKey({ key: jwk, format: 'jwk' }), {
      algorithms: [jwk.alg as 'ES256'],
    }) as JwtPayload;
  };

  describe('authentication', () => {
    it('refuses a request without a token: 401 unauthorized', async () => {
      const res = await request(a.http)
        .post('/api/v1/internal/api-keys/resolve')
        .send({ key: 'x' })
        .expect(401);
      expect(res.body).toEqual({ error: expect.objectContaining({ type: 'unauthorized', status: 401 }) });
    });

    it('refuses a session token with the same 401', async () => {
      const sessionToken = await session.token({ sub: 'someone', scope: 'apikeys:resolve' });
      const res = await resolveKey(a.http, sessionToken, 'x').expect(401);
      expect(res.body).toEqual({ error: expect.objectContaining({ type: 'unauthorized', status: 401 }) });
    });

    it('answers 403 forbidden when the token lacks apikeys:resolve', async () => {
      const res = await resolveKey(a.http, provisioner, 'x').expect(403);
      expect(res.body).toEqual({ error: expect.objectContaining({ type: 'forbidden', status: 403 }) });
    });
  });

  describe('validation', () => {
    it.each([
      ['no key', {}],
      ['a non-string key', { key: 42 }],
      ['an unknown field', { key: 'ksk_x', extra: true }],
      ['an over-long key', { key: 'k'.repeat(1025) }],
    ])('answers 400 for %s', async (_label, body) => {
      const res = await request(a.http)
        .post('/api/v1/internal/api-keys/resolve')
        .set('authorization', `Bearer ${resolver}`)
        .send(body)
        .expect(400);
      expect(res.body).toEqual({
        error: expect.objectContaining({ type: 'validation_failed', status: 400 }),
      });
    });

    it('answers 413 for a body over 64 KiB', async () => {
      await resolveKey(a.http, resolver, 'k'.repeat(70 * 1024)).expect(413);
    });
  });

  describe('a live key', () => {
    let key: Provisioned;

    beforeAll(async () => {
      key = await newKey('res-alice', { name: 'Alice' });
    });

    it('answers the identity and a fresh JWT, with no-store', async () => {
      const res = await resolveKey(a.http, resolver, key.apiKey).expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.body as ResolveBody;
      expect(body).toEqual({
        keyId: key.keyId,
        user: { id: key.userId, externalId: 'res-alice', email: 'resalice@example.com', name: 'Alice' },
        project: { id: key.projectId, name: 'Default' },
        allowedOrigins: [],
        expiresAt: null,
        token: expect.any(String),
        tokenExpiresAt: expect.any(String),
      });
      secrets.push(body.token);
    });

    it('mints a JWT that verifies with the JWKS, names user, project and key, and lives ≤ 5 minutes', async () => {
      const before = Math.floor(Date.now() / 1000);
      const body = (await resolveKey(a.http, resolver, key.apiKey).expect(200)).body as ResolveBody;
      secrets.push(body.token);
      const jwks = await jwksOf(a);
      expect(jwks.keys).toHaveLength(1);
      expect(jwks.keys[0]).toMatchObject({ kid: expect.any(String), alg: 'ES256', use: 'sig', kty: 'EC' });
      expect(jwks.keys[0]).not.toHaveProperty('d');

      const claims = verifyWith(jwks, body.token);
      expect(claims).toMatchObject({
        sub: key.userId,
        project_id: key.projectId,
        key_id: key.keyId,
        external_id: 'res-alice',
        iss: expect.any(String),
        jti: expect.any(String),
      });
      expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(300);
      expect(claims.exp!).toBeLessThanOrEqual(before + 301);
      expect(Date.parse(body.tokenExpiresAt)).toBe(claims.exp! * 1000);
      expect(decode(body.token, { complete: true })?.header).toMatchObject({
        alg: 'ES256',
        kid: jwks.keys[0]!.kid,
      });
    });

    it('mints a new JWT on every call, cached identity or not', async () => {
      const tokens = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const body = (await resolveKey(a.http, resolver, key.apiKey).expect(200)).body as ResolveBody;
        secrets.push(body.token);
        tokens.add(body.token);
      }
      expect(tokens.size).toBe(3);
    });

    it('bumps lastUsedAt off the request path', async () => {
      const fresh = await newKey('res-usage');
      await resolveKey(a.http, resolver, fresh.apiKey).expect(200);
      await a.app.get(ApiKeyUsageRecorder).flush();
      const [row] = await db.query<{ last_used_at: Date | null }>(
        'SELECT last_used_at FROM api_keys WHERE key_id = $1',
        [fresh.keyId],
      );
      expect(row?.last_used_at).toBeInstanceOf(Date);
    });

    it('reports the key’s allowed origins and expiry (a developer key)', async () => {
      const sessionToken = await session.token({ sub: 'res-dev' });
      const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
      const created = await request(a.http)
        .post('/api/v1/developer/keys')
        .set('authorization', `Bearer ${sessionToken}`)
        .send({ label: 'web', allowedOrigins: ['https://app.example.com'], expiresAt })
        .expect(201);
      const secret = (created.body as { secret: string }).secret;
      secrets.push(secret);
      const body = (await resolveKey(a.http, resolver, secret).expect(200)).body as ResolveBody;
      expect(body.allowedOrigins).toEqual(['https://app.example.com']);
      expect(Date.parse(body.expiresAt!)).toBe(Date.parse(expiresAt));
      expect(body.user.externalId).toBe('res-dev');
    });
  });

  describe('refusals', () => {
    it('answers malformed, unknown, wrong-secret, revoked and expired keys with the same 401', async () => {
      const live = await newKey('res-refusals');
      const revoked = await newKey('res-revoked');
      await db.query('UPDATE api_keys SET revoked_at = now() WHERE key_id = $1', [revoked.keyId]);
      const expired = await newKey('res-expired');
      await db.query(`UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE key_id = $1`, [
        expired.keyId,
      ]);
      const wrongSecret = `ksk_${live.keyId}_${'0'.repeat(64)}`;
      const unknown = generateApiKey().plaintext;
      const malformed = [
        '',
        'ksk_',
        'not-a-key',
        live.apiKey.toUpperCase(),
        `${live.apiKey}0`,
        live.apiKey.slice(0, -1),
        `ksk_${live.keyId}-${'a'.repeat(64)}`,
        ` ${live.apiKey}`,
      ];
      for (const presented of [...malformed, unknown, wrongSecret, revoked.apiKey, expired.apiKey]) {
        const res = await resolveKey(a.http, resolver, presented);
        expect({ presented, status: res.status, body: res.body as unknown }).toEqual({
          presented,
          status: 401,
          body: invalid,
        });
      }
      // The refusals are cached briefly, and still identical the second time.
      await resolveKey(a.http, resolver, wrongSecret).expect(401, invalid);
      await resolveKey(a.http, resolver, live.apiKey).expect(200);
    });

    it('never resolves a provider-issued key, even one shaped like a keysmith key', async () => {
      // Stored before the developer surface refused ksk_-shaped provider keys, or by any other path.
      const owner = await newKey('res-provider-owner');
      const lookalike = generateApiKey();
      secrets.push(lookalike.plaintext);
      const [provider] = await db.query<{ id: string }>(
        `INSERT INTO billing_providers (slug, name, auth_url, api_base)
         VALUES ('lookalike', 'Lookalike', 'https://l.test/auth', 'https://api.l.test') RETURNING id`,
      );
      await db.query(
        `INSERT INTO api_keys (key_id, key_hash, key_prefix, user_id, project_id, billing_provider_id, origin)
         VALUES ($1, $2, $3, $4, $5, $6, 'provider')`,
        [lookalike.keyId, lookalike.hash, lookalike.prefix, owner.userId, owner.projectId, provider!.id],
      );
      await resolveKey(a.http, resolver, lookalike.plaintext).expect(401, invalid);
      await resolveKey(b.http, resolver, lookalike.plaintext).expect(401, invalid);
      // The deprecated API-key admin tier goes through the same lookup.
      expect(await a.app.get(ApiKeyResolutionService).verify(lookalike.plaintext)).toBeNull();
    });

    it('answers 403 identity_not_allowed for a key whose user is disabled', async () => {
      const key = await newKey('res-disabled');
      await db.query('UPDATE users SET disabled_at = now() WHERE id = $1', [key.userId]);
      const res = await resolveKey(a.http, resolver, key.apiKey).expect(403);
      expect(res.body).toEqual({
        error: expect.objectContaining({ type: 'identity_not_allowed', status: 403 }),
      });
    });
  });

  describe('revocation, across instances', () => {
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

      await resolveKey(a.http, resolver, key.apiKey).expect(401, invalid);
      await resolveKey(b.http, resolver, key.apiKey).expect(401, invalid);
    });

    it('a key replaced by provisioning on one instance fails on the next call on the other', async () => {
      const first = await newKey('res-replace');
      await resolveKey(b.http, resolver, first.apiKey).expect(200);
      await resolveKey(b.http, resolver, first.apiKey).expect(200);
      const second = await newKey('res-replace');
      await resolveKey(b.http, resolver, first.apiKey).expect(401, invalid);
      await resolveKey(b.http, resolver, second.apiKey).expect(200);
    });

    it('both instances publish the same signing key: a token from one verifies with the other’s JWKS', async () => {
      const key = await newKey('res-jwks');
      const body = (await resolveKey(b.http, resolver, key.apiKey).expect(200)).body as ResolveBody;
      secrets.push(body.token);
      const [jwksA, jwksB] = [await jwksOf(a), await jwksOf(b)];
      expect(jwksA).toEqual(jwksB);
      expect(verifyWith(jwksA, body.token).sub).toBe(key.userId);
      expect(await db.query('SELECT kid FROM signing_keys')).toHaveLength(1);
    });
  });

  it('serves the JWKS publicly with a cache lifetime', async () => {
    const res = await request(a.http).get('/.well-known/jwks.json').expect(200);
    expect(res.headers['cache-control']).toBe('public, max-age=300');
  });
});
