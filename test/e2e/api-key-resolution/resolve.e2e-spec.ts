import { createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { decode, sign, verify, type JwtPayload } from 'jsonwebtoken';
import { Client } from 'pg';
import request from 'supertest';
import {
  API_KEY_PATTERN,
  generateApiKey,
  hashApiKey,
  LEGACY_API_KEY_PATTERN,
  parseApiKey,
} from 'src/api-keys/api-key-format';
import { ApiKeyCache } from 'src/api-key-resolution/api-key-cache';
import { ApiKeyResolutionService } from 'src/api-key-resolution/api-key-resolution.service';
import { ApiKeyUsageRecorder } from 'src/api-key-resolution/api-key-usage-recorder';
import { checksumOf } from 'src/crypto/checksum';
import { closeGracefully } from 'src/http/graceful-shutdown';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import {
  apiKey,
  billingProvider,
  disableUser,
  expireApiKey,
  legacyApiKey,
  provision,
  revokeApiKey,
  type Provisioned,
} from 'test/helpers/factories';
import { INVALID_API_KEY, resolveKey, UNAUTHORIZED } from 'test/helpers/http';
import { ALLOWED_ORG, internalEnv, M2M_AUDIENCE, m2mToken, TestIssuer } from 'test/helpers/issuers';
import { spyOnQueries } from 'test/helpers/query-spy';
import { eventually } from 'test/helpers/waiting';

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

/**
 * An internal service presents a user's API key and gets the identity behind it and a JWT minted for the
 * call. Two instances share the database, as behind a load balancer.
 */
describe('resolving an API key (POST /api/v1/internal/api-keys/resolve)', () => {
  const suite = e2eSuite();
  let m2m: TestIssuer;
  let session: TestIssuer;
  let a: TestApp;
  let b: TestApp;
  let provisioner: string;
  let resolver: string;
  const secrets: string[] = [];

  beforeAll(async () => {
    ({ m2m, session } = suite);
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
  const provisionWith = (token: string, externalId: string): request.Test =>
    request(a.http)
      .post('/api/v1/internal/provision-apikey')
      .set('authorization', `Bearer ${token}`)
      .send({ externalId, email: 'x@example.com', orgId: ALLOWED_ORG });
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

  describe('who may call', () => {
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

    it('refuses an M2M token that carries no exp', async () => {
      const claims = {
        sub: 'noexp@clients',
        gty: 'client-credentials',
        scope: 'apikeys:resolve provision:apikey',
      };
      const token = await m2m.token({ ...claims, exp: undefined });
      expect((decode(token) as JwtPayload).exp).toBeUndefined();
      await resolveKey(a.http, token, 'ksk_x').expect(401, UNAUTHORIZED);
      // Twice: a refusal is never remembered as a success.
      await resolveKey(a.http, token, 'ksk_x').expect(401, UNAUTHORIZED);
      await provisionWith(token, 'noexp').expect(401, UNAUTHORIZED);
    });

    it("while the M2M issuer's JWKS cannot be fetched: a valid token is 503 service_unavailable with Retry-After, a forged kid with a foreign iss is 401 without a fetch", async () => {
      const down = await TestIssuer.start(M2M_AUDIENCE);
      const app = await suite.start(internalEnv(down, session));
      try {
        const token = await m2mToken(down, 'svc', 'apikeys:resolve');
        const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
        const foreign = sign(
          {
            sub: 'x@clients',
            gty: 'client-credentials',
            scope: 'apikeys:resolve',
            aud: M2M_AUDIENCE,
            iss: 'https://evil.example',
          },
          privateKey,
          { algorithm: 'RS256', keyid: 'forged', expiresIn: 60 },
        );
        await down.stop();
        const res = await resolveKey(app.http, token, 'ksk_x');
        expect(res.status).toBe(503);
        expect(res.body).toEqual({
          error: { type: 'service_unavailable', status: 503, message: expect.any(String) as unknown },
        });
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        // Issuer mismatch: refused before any key fetch, so it is the plain 401, not the outage's 503.
        await resolveKey(app.http, foreign, 'ksk_x').expect(401, UNAUTHORIZED);
      } finally {
        await app.close();
      }
    });

    describe('only client-credentials tokens are M2M callers', () => {
      it('refuses a user token from the M2M issuer that carries no gty (sub is a person)', async () => {
        const user = await m2m.token({
          sub: 'auth0|person',
          scope: 'openid apikeys:resolve provision:apikey',
        });
        await resolveKey(a.http, user, 'ksk_x').expect(401, UNAUTHORIZED);
        await provisionWith(user, 'person-user').expect(401, UNAUTHORIZED);
        // Even when it names an authorized party that is not itself.
        const withAzp = await m2m.token({ sub: 'auth0|person', azp: 'spa', scope: 'apikeys:resolve' });
        await resolveKey(a.http, withAzp, 'ksk_x').expect(401, UNAUTHORIZED);
      });

      it.each([
        ['gty client-credentials', { sub: 'svc-a@clients', gty: 'client-credentials' }],
        ['sub equal to client_id (RFC 9068), no gty', { sub: 'svc-b', client_id: 'svc-b' }],
        ['sub equal to azp, no gty', { sub: 'svc-c', azp: 'svc-c' }],
        ['sub ending in @clients, no gty', { sub: 'svc-d@clients' }],
      ])('accepts %s', async (_label, claims) => {
        const token = await m2m.token({ ...claims, scope: 'apikeys:resolve' });
        await resolveKey(a.http, token, 'ksk_x').expect(401, INVALID_API_KEY);
      });
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
        scopes: [],
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
      const [row] = await suite.db.query<{ last_used_at: Date | null }>(
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

  describe('the minted JWT never outlives the key', () => {
    it('caps exp at the key’s expiresAt', async () => {
      const st = await session.token({ sub: 'expiring-key-user' });
      const expiresAt = new Date(Date.now() + 65_000);
      const created = await request(a.http)
        .post('/api/v1/developer/keys')
        .set('authorization', `Bearer ${st}`)
        .send({ label: 'soon', expiresAt: expiresAt.toISOString() })
        .expect(201);
      const secret = (created.body as { secret: string }).secret;
      secrets.push(secret);
      const body = (await resolveKey(a.http, resolver, secret).expect(200)).body as {
        token: string;
        tokenExpiresAt: string;
      };
      const exp = (decode(body.token) as JwtPayload).exp!;
      expect(exp).toBe(Math.floor(expiresAt.getTime() / 1000));
      expect(body.tokenExpiresAt).toBe(new Date(exp * 1000).toISOString());
    });

    it('keeps 300 s for a key without expiry', async () => {
      const key = await newKey('forever-key-user');
      const body = (await resolveKey(a.http, resolver, key.apiKey).expect(200)).body as { token: string };
      const { iat, exp } = decode(body.token) as JwtPayload;
      expect(exp! - iat!).toBe(300);
    });
  });

  describe('lastUsedAt survives shutdown', () => {
    it('a use in flight when shutdown starts is written before the database closes', async () => {
      const key = await newKey('shutdown-usage');
      const c = await suite.start(internalEnv(m2m, session));
      await c.app.listen(0, '127.0.0.1');
      const { port } = c.http.address() as { port: number };
      const locker = new Client({ connectionString: suite.db.url });
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
      // The lookup waits on the lock, so the request is in flight while shutdown begins.
      const inFlight = resolveKey(`http://127.0.0.1:${port}` as never, resolver, key.apiKey).then(
        (r) => r.status,
      );
      await eventually(async () => {
        const rows = await suite.db.query(
          `SELECT 1 FROM pg_locks WHERE NOT granted AND relation = 'api_keys'::regclass`,
        );
        return rows.length > 0;
      });
      const closing = closeGracefully(c.app);
      await new Promise((r) => setTimeout(r, 300));
      await locker.query('ROLLBACK');
      await locker.end();
      expect(await inFlight).toBe(200);
      await closing;
      const [row] = await suite.db.query<{ last_used_at: Date | null }>(
        'SELECT last_used_at FROM api_keys WHERE key_id = $1',
        [key.keyId],
      );
      expect(row?.last_used_at).toBeInstanceOf(Date);
    });
  });

  describe('refusals', () => {
    it('answers malformed, unknown, wrong-secret, revoked and expired keys with the same 401', async () => {
      const live = await newKey('res-refusals');
      const revoked = await newKey('res-revoked');
      await revokeApiKey(a.app, revoked.keyId);
      const expired = await newKey('res-expired');
      await expireApiKey(suite.db, expired.keyId);
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
          body: INVALID_API_KEY,
        });
      }
      // The refusals are cached briefly, and still identical the second time.
      await resolveKey(a.http, resolver, wrongSecret).expect(401, INVALID_API_KEY);
      await resolveKey(a.http, resolver, live.apiKey).expect(200);
    });

    it('never resolves a provider-issued key, even one shaped like a keysmith key', async () => {
      // Stored before the developer surface refused ksk_-shaped provider keys, or by any other path.
      const owner = await newKey('res-provider-owner');
      const lookalike = generateApiKey();
      secrets.push(lookalike.plaintext);
      const provider = await billingProvider(a.app, 'lookalike', 'Lookalike');
      // A provider key stored before provider keys got random lookup ids: under the id it embeds, where a
      // resolution of it looks. No API stores one like this any more, so the row is written directly.
      await suite.db.query(
        `INSERT INTO api_keys (key_id, key_hash, key_prefix, user_id, project_id, billing_provider_id, origin)
         VALUES ($1, $2, $3, $4, $5, $6, 'provider')`,
        [
          lookalike.keyId,
          lookalike.hash,
          '****' + lookalike.plaintext.slice(-4),
          owner.userId,
          owner.projectId,
          provider.id,
        ],
      );
      await resolveKey(a.http, resolver, lookalike.plaintext).expect(401, INVALID_API_KEY);
      await resolveKey(b.http, resolver, lookalike.plaintext).expect(401, INVALID_API_KEY);
      // The deprecated API-key admin tier goes through the same lookup.
      expect(await a.app.get(ApiKeyResolutionService).verify(lookalike.plaintext)).toBeNull();
    });

    it('answers 403 identity_not_allowed for a key whose user is disabled', async () => {
      const key = await newKey('res-disabled');
      await disableUser(suite.db, { id: key.userId });
      const res = await resolveKey(a.http, resolver, key.apiKey).expect(403);
      expect(res.body).toEqual({
        error: expect.objectContaining({ type: 'identity_not_allowed', status: 403 }),
      });
    });
  });

  describe('the checksum', () => {
    it('is on every new key, provisioned or minted, and the key resolves on both instances', async () => {
      const provisioned = await newKey('res-checksum');
      const { secret: minted } = await apiKey(a.app, 'res-checksum-dev');
      secrets.push(minted);
      for (const key of [provisioned.apiKey, minted]) {
        expect(key).toMatch(API_KEY_PATTERN);
        expect(key.slice(-6)).toBe(checksumOf(key.slice(0, key.lastIndexOf('_'))));
        await resolveKey(a.http, resolver, key).expect(200);
        await resolveKey(b.http, resolver, key).expect(200);
      }
    });

    it('a key minted before the checksum existed resolves until it is revoked', async () => {
      const legacy = await legacyApiKey(a.app, 'res-legacy');
      secrets.push(legacy.secret);
      expect(legacy.secret).toMatch(LEGACY_API_KEY_PATTERN);
      const { keyId } = parseApiKey(legacy.secret)!;
      const body = (await resolveKey(a.http, resolver, legacy.secret).expect(200)).body as ResolveBody;
      expect(body.keyId).toBe(keyId);
      await resolveKey(b.http, resolver, legacy.secret).expect(200);
      // The same key with its checksum appended is another string: its hash is not the stored one.
      const withChecksum = `${legacy.secret}_${checksumOf(legacy.secret)}`;
      await resolveKey(a.http, resolver, withChecksum).expect(401, INVALID_API_KEY);
      await revokeApiKey(a.app, keyId);
      await resolveKey(a.http, resolver, legacy.secret).expect(401, INVALID_API_KEY);
      await resolveKey(b.http, resolver, legacy.secret).expect(401, INVALID_API_KEY);
    });

    it('answers a bad checksum with 401 invalid_api_key, without a database query or the cache', async () => {
      const live = await newKey('res-bad-checksum');
      await resolveKey(a.http, resolver, live.apiKey).expect(200);
      const body = live.apiKey.slice(0, -6);
      const checksum = live.apiKey.slice(-6);
      // A live key's id and secret under a wrong checksum, changed in each of its 6 positions.
      const bad = [...checksum].map(
        (c, i) => body + checksum.slice(0, i) + (c === 'A' ? 'B' : 'A') + checksum.slice(i + 1),
      );
      bad.push(`${generateApiKey().plaintext.slice(0, -6)}${checksum}`);
      // The warm-up's last-use write, flushed a second later, must not land among the spied statements.
      await a.app.get(ApiKeyUsageRecorder).flush();
      const cache = a.app.get(ApiKeyCache);
      const cached = cache.size;
      // The live key's use is written now, not by the recorder's timer while the spy watches.
      await a.app.get(ApiKeyUsageRecorder).flush();
      const queries = spyOnQueries();
      try {
        for (const presented of bad)
          await resolveKey(a.http, resolver, presented).expect(401, INVALID_API_KEY);
        // The deprecated API-key admin tier goes through the same lookup.
        expect(await a.app.get(ApiKeyResolutionService).verify(bad[0]!)).toBeNull();
        expect(queries.statements()).toEqual([]);
      } finally {
        queries.restore();
      }
      expect(cache.size).toBe(cached);
      for (const presented of bad) expect(cache.get(hashApiKey(presented))).toBeUndefined();
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

      await resolveKey(a.http, resolver, key.apiKey).expect(401, INVALID_API_KEY);
      await resolveKey(b.http, resolver, key.apiKey).expect(401, INVALID_API_KEY);
    });

    it('a key replaced by provisioning on one instance fails on the next call on the other', async () => {
      const first = await newKey('res-replace');
      await resolveKey(b.http, resolver, first.apiKey).expect(200);
      await resolveKey(b.http, resolver, first.apiKey).expect(200);
      const second = await newKey('res-replace');
      await resolveKey(b.http, resolver, first.apiKey).expect(401, INVALID_API_KEY);
      await resolveKey(b.http, resolver, second.apiKey).expect(200);
    });
  });

  describe('the JWKS', () => {
    it('both instances publish the same signing key: a token from one verifies with the other’s JWKS', async () => {
      const key = await newKey('res-jwks');
      const body = (await resolveKey(b.http, resolver, key.apiKey).expect(200)).body as ResolveBody;
      secrets.push(body.token);
      const [jwksA, jwksB] = [await jwksOf(a), await jwksOf(b)];
      expect(jwksA).toEqual(jwksB);
      expect(verifyWith(jwksA, body.token).sub).toBe(key.userId);
      expect(await suite.db.query('SELECT kid FROM signing_keys')).toHaveLength(1);
    });

    it('serves the JWKS publicly with a cache lifetime', async () => {
      const res = await request(a.http).get('/.well-known/jwks.json').expect(200);
      expect(res.headers['cache-control']).toBe('public, max-age=300');
    });
  });

  it('sends no ETag (every answer is no-store)', async () => {
    const key = await newKey('etag-user');
    const res = await resolveKey(a.http, resolver, key.apiKey).expect(200);
    expect(res.headers.etag).toBeUndefined();
    const health = await request(a.http).get('/health/live');
    expect(health.headers.etag).toBeUndefined();
  });
});
