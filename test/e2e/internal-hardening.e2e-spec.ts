import { generateKeyPairSync } from 'node:crypto';
import { decode, sign, type JwtPayload } from 'jsonwebtoken';
import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { randomLookupId } from 'src/api-keys/api-key-format';
import { ApiKeyRevocations, REVOCATION_CHANNEL } from 'src/api-key-resolution/api-key-revocations';
import { closeGracefully } from 'src/http/graceful-shutdown';
import { internalSuite, startTestApp, type TestApp } from 'test/helpers/app';
import type { TestDatabase } from 'test/helpers/database';
import {
  ALLOWED_ORG,
  internalEnv,
  M2M_AUDIENCE,
  m2mToken,
  SESSION_AUDIENCE,
  TestIssuer,
} from 'test/helpers/issuers';
import { eventually } from 'test/helpers/waiting';
import { provision, type Provisioned } from 'test/helpers/factories';
import { resolveKey } from 'test/helpers/http';

jest.setTimeout(60_000);

const UNAUTHORIZED = { error: { type: 'unauthorized', status: 401, message: 'Authentication required.' } };
const INVALID_KEY = { error: { type: 'invalid_api_key', status: 401, message: 'Invalid API key.' } };

/** What the listener's connection exposes to a test that needs to break it. */
interface ListenerInternals {
  client?: { processID?: number; connection: { stream: { pause(): void; resume(): void } } };
}

/**
 * Review regressions for the internal surface: who counts as an M2M client, provisioning racing a
 * developer key create, a listener that silently stops receiving, an unresponsive database, an
 * unreachable JWKS, minted JWT lifetimes, tokens without `exp`, and usage writes at shutdown.
 */
describe('internal surface: review regressions', () => {
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
    expect(a.logs.leaked(secrets)).toEqual([]);
  });

  const newKey = async (externalId: string, via: TestApp = a): Promise<Provisioned> => {
    const p = await provision(via.http, provisioner, { externalId });
    secrets.push(p.apiKey);
    return p;
  };
  const provisionWith = (token: string, externalId: string): request.Test =>
    request(a.http)
      .post('/api/v1/internal/provision-apikey')
      .set('authorization', `Bearer ${token}`)
      .send({ externalId, email: 'x@example.com', orgId: ALLOWED_ORG });

  describe('B1: only client-credentials tokens are M2M', () => {
    it('refuses a user token from the M2M issuer that carries no gty (sub is a person)', async () => {
      const user = await m2m.token({ sub: 'auth0|person', scope: 'openid apikeys:resolve provision:apikey' });
      await resolveKey(a.http, user, 'ksk_x').expect(401, UNAUTHORIZED);
      await provisionWith(user, 'b1-user').expect(401, UNAUTHORIZED);
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
      await resolveKey(a.http, token, 'ksk_x').expect(401, INVALID_KEY);
    });
  });

  describe('S5: tokens without exp', () => {
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
  });

  describe('B2: provisioning racing a developer key create', () => {
    it('never deadlocks (no 500s) for fresh users', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 15; i++) {
        const sub = `b2-user-${i}`;
        const st = await session.token({ sub });
        // Creates the user without a default project.
        await request(a.http)
          .get('/api/v1/developer/projects')
          .set('authorization', `Bearer ${st}`)
          .expect(200);
        const [p, d] = await Promise.all([
          provisionWith(provisioner, sub),
          request(b.http)
            .post('/api/v1/developer/keys')
            .set('authorization', `Bearer ${st}`)
            .send({ label: 'dev' }),
        ]);
        statuses.push(p.status, d.status);
        if (p.status === 200) secrets.push((p.body as Provisioned).apiKey);
        if (d.status === 201) secrets.push((d.body as { secret: string }).secret);
      }
      expect(statuses.filter((s) => s >= 500)).toEqual([]);
      expect(a.logs.text()).not.toMatch(/40P01|deadlock/i);
    });
  });

  describe('S4: the minted JWT never outlives the key', () => {
    it('caps exp at the key’s expiresAt', async () => {
      const st = await session.token({ sub: 's4-user' });
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
      const key = await newKey('s4-forever');
      const body = (await resolveKey(a.http, resolver, key.apiKey).expect(200)).body as { token: string };
      const { iat, exp } = decode(body.token) as JwtPayload;
      expect(exp! - iat!).toBe(300);
    });
  });

  describe('S1: a listener that stops receiving', () => {
    const listener = (t: TestApp): ListenerInternals => {
      const revocations: object = t.app.get(ApiKeyRevocations);
      return revocations;
    };

    it('stops trusting cached keys when heartbeats stop arriving (half-open socket)', async () => {
      const first = await newKey('s1-half-open');
      await resolveKey(b.http, resolver, first.apiKey).expect(200); // cached on b
      const stream = listener(b).client!.connection.stream;
      stream.pause();
      try {
        // No heartbeat gets through: within the trust window b stops serving positives from its cache.
        await eventually(() => !b.app.get(ApiKeyRevocations).listening, 400);
        await newKey('s1-half-open'); // replaces (revokes) `first`, announced while b hears nothing
        await resolveKey(b.http, resolver, first.apiKey).expect(401, INVALID_KEY);
      } finally {
        stream.resume();
      }
      await eventually(() => b.app.get(ApiKeyRevocations).listening, 800);
      await resolveKey(b.http, resolver, first.apiKey).expect(401, INVALID_KEY);
    });

    it('a terminated listener backend: the next call after a revocation is a 401, and the cache restarts empty', async () => {
      const first = await newKey('s1-terminated');
      await resolveKey(b.http, resolver, first.apiKey).expect(200);
      await resolveKey(a.http, resolver, first.apiKey).expect(200);
      const pid = listener(b).client!.processID!;
      const [row] = await db.query<{ application_name: string }>(
        'SELECT application_name FROM pg_stat_activity WHERE pid = $1',
        [pid],
      );
      expect(row?.application_name).toBe('keysmith-revocation-listener');
      await db.query('SELECT pg_terminate_backend($1)', [pid]);
      await newKey('s1-terminated'); // revokes `first` on a
      await resolveKey(b.http, resolver, first.apiKey).expect(401, INVALID_KEY);
      await resolveKey(a.http, resolver, first.apiKey).expect(401, INVALID_KEY);
      await eventually(() => b.app.get(ApiKeyRevocations).listening, 800);
      await resolveKey(b.http, resolver, first.apiKey).expect(401, INVALID_KEY);
    });
  });

  describe('S2: an unresponsive database', () => {
    it('answers 503 key_resolution_unavailable with Retry-After instead of hanging', async () => {
      const key = await newKey('s2-locked');
      const locker = new Client({ connectionString: db.url });
      await locker.connect();
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
        const started = Date.now();
        const res = await resolveKey(b.http, resolver, key.apiKey).timeout(8_000);
        expect(res.status).toBe(503);
        expect((res.body as { error: { type: string } }).error.type).toBe('key_resolution_unavailable');
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        expect(Date.now() - started).toBeLessThan(8_000);
      } finally {
        await locker.query('ROLLBACK');
        await locker.end();
      }
      await resolveKey(b.http, resolver, key.apiKey).expect(200);
    });

    it('caps every statement at the pool’s statement_timeout', async () => {
      const [row] = await a.app
        .get(DataSource)
        .query<{ statement_timeout: string }[]>('SHOW statement_timeout');
      expect(row?.statement_timeout).toBe('10s');
    });
  });

  describe('S3: the JWKS cannot be fetched', () => {
    it('M2M: a valid token is 503 service_unavailable with Retry-After, a forged kid with a foreign iss is 401 without a fetch', async () => {
      const down = await TestIssuer.start(M2M_AUDIENCE);
      const app = await startTestApp(db, internalEnv(down, session));
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

    it('session: @SessionAuth routes are 503; AdminAuth still accepts ADMIN_TOKEN', async () => {
      const idp = await TestIssuer.start(SESSION_AUDIENCE);
      const adminToken = 'a'.repeat(40);
      const app = await startTestApp(db, { ...internalEnv(m2m, idp), ADMIN_TOKEN: adminToken });
      try {
        const st = await idp.token({ sub: 's3-user' });
        await idp.stop();
        const res = await request(app.http)
          .get('/api/v1/developer/projects')
          .set('authorization', `Bearer ${st}`);
        expect(res.status).toBe(503);
        expect((res.body as { error: { type: string } }).error.type).toBe('service_unavailable');
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        await request(app.http)
          .get('/api/v1/admin/whoami')
          .set('authorization', `Bearer ${adminToken}`)
          .expect(200);
      } finally {
        await app.close();
      }
    });
  });

  describe('S8: lastUsedAt survives shutdown', () => {
    it('a use in flight when shutdown starts is written before the database closes', async () => {
      const key = await newKey('s8-shutdown');
      const c = await startTestApp(db, internalEnv(m2m, session));
      await c.app.listen(0, '127.0.0.1');
      const { port } = c.http.address() as { port: number };
      const locker = new Client({ connectionString: db.url });
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
      // The lookup waits on the lock, so the request is in flight while shutdown begins.
      const inFlight = resolveKey(`http://127.0.0.1:${port}` as never, resolver, key.apiKey).then(
        (r) => r.status,
      );
      await eventually(async () => {
        const rows = await db.query(
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
      const [row] = await db.query<{ last_used_at: Date | null }>(
        'SELECT last_used_at FROM api_keys WHERE key_id = $1',
        [key.keyId],
      );
      expect(row?.last_used_at).toBeInstanceOf(Date);
    });
  });

  describe('NOTIFY chunking', () => {
    it('announces thousands of revoked key ids in payloads under the 8000-byte limit, on commit only', async () => {
      const listener = new Client({ connectionString: db.url });
      await listener.connect();
      const payloads: string[] = [];
      listener.on('notification', (msg) => {
        if (msg.channel === REVOCATION_CHANNEL && msg.payload) payloads.push(msg.payload);
      });
      await listener.query(`LISTEN ${REVOCATION_CHANNEL}`);
      try {
        const revocations = a.app.get(ApiKeyRevocations);
        const dataSource = a.app.get(DataSource);
        const ids = Array.from({ length: 1_500 }, () => randomLookupId());
        const rolledBack = ['deadbeefdeadbeef'];
        await dataSource
          .transaction(async (manager) => {
            await revocations.notify(rolledBack, manager);
            throw new Error('roll back');
          })
          .catch(() => undefined);
        await dataSource.transaction((manager) => revocations.notify(ids, manager));
        // A marker sent afterwards: once it arrives, everything before it has.
        await db.query(`SELECT pg_notify($1, 'ffffffffffffffff')`, [REVOCATION_CHANNEL]);
        await eventually(() => payloads.includes('ffffffffffffffff'));
        const chunks = payloads.filter((p) => p !== 'ffffffffffffffff');
        expect(chunks.length).toBeGreaterThanOrEqual(4);
        for (const chunk of chunks) expect(Buffer.byteLength(chunk)).toBeLessThan(8_000);
        expect(chunks.flatMap((c) => c.split(','))).toEqual(ids);
      } finally {
        await listener.end();
      }
    });
  });

  describe('provisioning input', () => {
    it('trims externalId: padded and plain name one user; blank is a 400', async () => {
      const plain = await newKey('trimmed-user');
      const padded = await newKey('  trimmed-user \t');
      expect(padded.userId).toBe(plain.userId);
      const res = await provisionWith(provisioner, '   ');
      expect(res.status).toBe(400);
      expect((res.body as { error: { type: string } }).error.type).toBe('validation_failed');
    });
  });

  describe('pipeline', () => {
    it('sends no ETag (every answer is no-store)', async () => {
      const key = await newKey('etag-user');
      const res = await resolveKey(a.http, resolver, key.apiKey).expect(200);
      expect(res.headers.etag).toBeUndefined();
      const health = await request(a.http).get('/health/live');
      expect(health.headers.etag).toBeUndefined();
    });
  });
});
