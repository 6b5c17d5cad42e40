import { createHash } from 'node:crypto';
import request from 'supertest';
import { checksumOf } from 'src/crypto/checksum';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { sessionBearer, sessionEnv, TestIssuer } from 'test/helpers/issuers';
import { concurrently } from 'test/helpers/waiting';
import { errorShape } from 'test/helpers/http';

interface KeyView {
  id: string;
  label: string | null;
  keyPrefix: string;
  status: 'ACTIVE' | 'DISABLED' | 'EXPIRED' | 'REVOKED';
  project: { id: string; name: string };
  billingProvider: { id: string; slug: string; name: string } | null;
  allowedOrigins: string[];
  createdAt: string;
  lastUsedAt: string | null;
  lastUsedBy: string | null;
  revokedAt: string | null;
  revokedReason: string | null;
  disabledAt: string | null;
  expiresAt: string | null;
}

interface ProjectView {
  id: string;
  name: string;
  isDefault: boolean;
  createdAt: string;
  apiKeyCount: number;
}

const KEY_FORMAT = /^ksk_([0-9a-f]{16})_([0-9a-f]{64})_([0-9A-Za-z]{6})$/;
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('developer surface: API keys', () => {
  const suite = e2eSuite({ issuers: false });
  let issuer: TestIssuer;
  let other: TestIssuer;
  let t: TestApp;
  let acmeId: string;
  let dormantId: string;
  /** Every plaintext this suite creates: none may reach a log line or a table. */
  const secrets: string[] = [];

  beforeAll(async () => {
    issuer = await TestIssuer.start('keysmith-developer');
    other = await TestIssuer.start('keysmith-developer');
    t = await suite.start({
      ...sessionEnv(issuer),
      BILLING_PROVIDERS: JSON.stringify([
        {
          slug: 'acme',
          name: 'Acme Billing',
          authUrl: 'https://acme.test/auth',
          apiBase: 'https://api.acme.test',
        },
        {
          slug: 'dormant',
          name: 'Dormant Pay',
          authUrl: 'https://dormant.test/auth',
          apiBase: 'https://api.dormant.test',
          enabled: false,
        },
      ]),
    });
    const rows = await suite.db.query<{ id: string; slug: string }>('SELECT id, slug FROM billing_providers');
    acmeId = rows.find((r) => r.slug === 'acme')!.id;
    dormantId = rows.find((r) => r.slug === 'dormant')!.id;
  });

  afterAll(async () => {
    await issuer?.stop();
    await other?.stop();
  });

  const bearer = (sub: string): Promise<string> => sessionBearer(issuer, sub);
  /** Calls `path` as the session user `sub` and asserts the status (with the body in the failure message). */
  const as = (sub: string) => {
    const call = async (method: 'get' | 'post' | 'delete', path: string, status: number, body?: unknown) => {
      const res = await request(t.http)
        [method](path)
        .set('authorization', await bearer(sub))
        .send(body as object);
      expect({ status: res.status, body: res.body as unknown }).toEqual({ status, body: expect.anything() });
      return res;
    };
    return {
      get: (path: string, status: number) => call('get', path, status),
      post: (path: string, body: unknown, status: number) => call('post', path, status, body),
      del: (path: string, status: number) => call('delete', path, status),
    };
  };

  async function mint(
    sub: string,
    body: Record<string, unknown> = {},
  ): Promise<{ key: KeyView; secret: string }> {
    const res = await as(sub).post('/api/v1/developer/keys', body, 201);
    const out = res.body as { key: KeyView; secret: string };
    secrets.push(out.secret, out.secret.split('_')[2]!);
    return out;
  }

  describe('authentication', () => {
    const routes: [string, string][] = [
      ['get', '/api/v1/developer/keys'],
      ['post', '/api/v1/developer/keys'],
      ['get', '/api/v1/developer/keys/00000000-0000-4000-8000-000000000000'],
      ['patch', '/api/v1/developer/keys/00000000-0000-4000-8000-000000000000'],
      ['delete', '/api/v1/developer/keys/00000000-0000-4000-8000-000000000000'],
      ['get', '/api/v1/developer/projects'],
      ['post', '/api/v1/developer/projects'],
      ['get', '/api/v1/billing-providers'],
    ];

    it.each(routes)('%s %s without a credential is 401', async (method, path) => {
      const res = await (request(t.http) as unknown as Record<string, (p: string) => request.Test>)[method]!(
        path,
      ).send({});
      expect(res.status).toBe(401);
      expect(res.body).toEqual(errorShape('unauthorized', 401));
    });

    it.each(routes)('%s %s refuses wrong credentials with one identical answer', async (method, path) => {
      const credentials = [
        'garbage',
        await other.token({ sub: 'mallory' }),
        await issuer.token({ sub: 'alice' }, { expiresIn: -60 }),
        await issuer.token({ sub: '' }),
        await issuer.token({ sub: 'alice', aud: 'someone-else' }),
        `ksk_${'a'.repeat(16)}_${'b'.repeat(64)}`,
      ];
      const bodies = await Promise.all(
        credentials.map(async (c) => {
          const res = await (request(t.http) as unknown as Record<string, (p: string) => request.Test>)[
            method
          ]!(path)
            .set('authorization', `Bearer ${c}`)
            .send({});
          expect(res.status).toBe(401);
          return JSON.stringify(res.body);
        }),
      );
      expect(new Set(bodies).size).toBe(1);
    });
  });

  describe('minting', () => {
    it('mints ksk_<keyId>_<secret>_<checksum> once, with no-store, stored only as a hash', async () => {
      const res = await as('mint-user').post('/api/v1/developer/keys', { label: '  ci  ' }, 201);
      expect(res.headers['cache-control']).toBe('no-store');
      const { key, secret } = res.body as { key: KeyView; secret: string };
      secrets.push(secret, secret.split('_')[2]!);
      const [, keyId, secretPart, checksum] = KEY_FORMAT.exec(secret)!;
      expect(secretPart).toHaveLength(64);
      expect(checksum).toBe(checksumOf(`ksk_${keyId}_${secretPart}`));
      expect(key).toEqual({
        id: expect.any(String),
        label: 'ci',
        keyPrefix: secret.slice(0, 12),
        status: 'ACTIVE',
        project: { id: expect.any(String), name: 'Default' },
        billingProvider: null,
        allowedOrigins: [],
        scopes: [],
        createdAt: expect.any(String),
        lastUsedAt: null,
        lastUsedBy: null,
        revokedAt: null,
        revokedReason: null,
        disabledAt: null,
        expiresAt: null,
        predecessorId: null,
        successorId: null,
        graceEndsAt: null,
      });
      const [row] = await suite.db.query<{ key_id: string; key_hash: string; key_prefix: string }>(
        'SELECT key_id, key_hash, key_prefix FROM api_keys WHERE id = $1',
        [key.id],
      );
      expect(row).toEqual({ key_id: keyId, key_hash: sha256(secret), key_prefix: secret.slice(0, 12) });

      // Returned once: reading the key back never carries the secret.
      const again = await as('mint-user').get(`/api/v1/developer/keys/${key.id}`, 200);
      expect(JSON.stringify(again.body)).not.toContain(secretPart);
      expect(again.body).toEqual({ key: { ...key, consumers: [] } });
    });

    it('writes an audit row per creation with the session actor and no secret', async () => {
      const { key, secret } = await mint('audited-user', { label: 'audit me' });
      const rows = await suite.db.query<{
        actor: string;
        action: string;
        target_id: string;
        metadata: unknown;
      }>(`SELECT actor, action, target_id, metadata FROM audit_events WHERE target_id = $1`, [key.id]);
      expect(rows).toEqual([
        {
          actor: 'session:audited-user',
          action: 'api_key.create',
          target_id: key.id,
          metadata: expect.objectContaining({ keyPrefix: secret.slice(0, 12), kind: 'minted' }) as unknown,
        },
      ]);
    });

    it('ten concurrent first mints for a new user make one user, one default project and ten keys', async () => {
      const sub = 'racer-10';
      const token = await bearer(sub);
      const responses = await concurrently(10, (i) =>
        request(t.http)
          .post('/api/v1/developer/keys')
          .set('authorization', token)
          .send({ label: `k${i}` }),
      );
      for (const res of responses) {
        expect(res.status).toBe(201);
        const body = res.body as { key: KeyView; secret: string };
        secrets.push(body.secret, body.secret.split('_')[2]!);
      }
      const projectIds = new Set(responses.map((r) => (r.body as { key: KeyView }).key.project.id));
      expect(projectIds.size).toBe(1);
      expect(new Set(responses.map((r) => (r.body as { secret: string }).secret)).size).toBe(10);

      const users = await suite.db.query<{ id: string }>('SELECT id FROM users WHERE external_id = $1', [
        sub,
      ]);
      expect(users).toHaveLength(1);
      const projects = await suite.db.query<{ id: string; is_default: boolean; name: string }>(
        'SELECT id, is_default, name FROM projects WHERE user_id = $1',
        [users[0]!.id],
      );
      expect(projects).toEqual([{ id: [...projectIds][0], is_default: true, name: 'Default' }]);
      const list = await as(sub).get('/api/v1/developer/projects', 200);
      expect((list.body as { projects: ProjectView[] }).projects).toEqual([
        expect.objectContaining({ isDefault: true, apiKeyCount: 10 }),
      ]);
      const audits = await suite.db.query('SELECT 1 FROM audit_events WHERE actor = $1 AND action = $2', [
        `session:${sub}`,
        'api_key.create',
      ]);
      expect(audits).toHaveLength(10);
    });

    it('ten concurrent mints into one new project name make one project', async () => {
      const token = await bearer('racer-named');
      const responses = await concurrently(10, () =>
        request(t.http)
          .post('/api/v1/developer/keys')
          .set('authorization', token)
          .send({ projectName: 'Shared' }),
      );
      for (const res of responses) {
        expect(res.status).toBe(201);
        secrets.push((res.body as { secret: string }).secret);
      }
      expect(new Set(responses.map((r) => (r.body as { key: KeyView }).key.project.id)).size).toBe(1);
    });

    it('puts the key in projectId, else projectName (found or created), else the default project', async () => {
      const sub = 'project-picker';
      const created = await as(sub).post('/api/v1/developer/projects', { name: 'Web' }, 201);
      const webId = (created.body as ProjectView).id;

      const byId = await mint(sub, { projectId: webId });
      expect(byId.key.project).toEqual({ id: webId, name: 'Web' });
      const byName = await mint(sub, { projectName: 'Web' });
      expect(byName.key.project).toEqual({ id: webId, name: 'Web' });
      const fresh = await mint(sub, { projectName: ' Mobile ' });
      expect(fresh.key.project.name).toBe('Mobile');
      const both = await mint(sub, { projectId: webId, projectName: 'Ignored' });
      expect(both.key.project.id).toBe(webId);
      const def = await mint(sub);
      expect(def.key.project.name).toBe('Default');

      const list = await as(sub).get('/api/v1/developer/projects', 200);
      const projects = (list.body as { projects: ProjectView[] }).projects;
      expect(projects.map((p) => [p.name, p.isDefault, p.apiKeyCount])).toEqual([
        ['Default', true, 1],
        ['Web', false, 3],
        ['Mobile', false, 1],
      ]);
    });

    it("refuses another user's project and an unknown one with 404", async () => {
      const owner = await as('owner-a').post('/api/v1/developer/projects', { name: 'Private' }, 201);
      const foreign = (owner.body as ProjectView).id;
      const res = await as('intruder-b').post('/api/v1/developer/keys', { projectId: foreign }, 404);
      expect(res.body).toEqual(errorShape('not_found', 404));
      const unknown = await as('intruder-b').post(
        '/api/v1/developer/keys',
        {
          projectId: '00000000-0000-4000-8000-000000000000',
        },
        404,
      );
      expect(unknown.body).toEqual(res.body);
    });

    it('stores allowedOrigins normalised and deduplicated, and expiresAt', async () => {
      const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
      const { key } = await mint('origins-user', {
        allowedOrigins: ['https://App.Example.com', 'https://app.example.com', 'http://localhost:3000'],
        expiresAt,
      });
      expect(key.allowedOrigins).toEqual(['https://app.example.com', 'http://localhost:3000']);
      expect(key.expiresAt).toBe(expiresAt);
    });
  });

  describe('provider-issued keys', () => {
    const shaped = 'pk_live0123ABCD_s3cr3tPart0123456789abcdefXYZ';
    const unshaped = 'opaqueproviderkey-0123456789abcdefghijklmnop';

    it('stores a shaped key under a random lookup id, masked to its last 4 characters, never echoing it', async () => {
      secrets.push(shaped, 's3cr3tPart0123456789abcdefXYZ');
      const res = await as('provider-user').post(
        '/api/v1/developer/keys',
        {
          billingProviderId: acmeId,
          rawApiKey: shaped,
          label: 'from acme',
        },
        201,
      );
      expect(res.headers['cache-control']).toBe('no-store');
      expect(Object.keys(res.body as object)).toEqual(['key']);
      expect(JSON.stringify(res.body)).not.toContain('s3cr3tPart');
      const { key } = res.body as { key: KeyView };
      expect(key).toMatchObject({
        keyPrefix: `****${shaped.slice(-4)}`,
        billingProvider: { id: acmeId, slug: 'acme', name: 'Acme Billing' },
        project: { name: 'Default' },
        status: 'ACTIVE',
      });
      const [row] = await suite.db.query<{ key_id: string; key_hash: string }>(
        'SELECT key_id, key_hash FROM api_keys WHERE id = $1',
        [key.id],
      );
      // Nothing of the key in a plaintext column: not its embedded id, not its first characters.
      expect(row!.key_id).toMatch(/^[0-9a-f]{16}$/);
      expect(row!.key_hash).toBe(sha256(shaped));
      const [audit] = await suite.db.query<{ metadata: Record<string, unknown> }>(
        'SELECT metadata FROM audit_events WHERE target_id = $1',
        [key.id],
      );
      expect(audit?.metadata).toMatchObject({
        kind: 'provider',
        billingProviderId: acmeId,
        keyPrefix: `****${shaped.slice(-4)}`,
      });
    });

    it('stores an unshaped key under a random lookup id and trims surrounding whitespace', async () => {
      secrets.push(unshaped);
      const res = await as('provider-user').post(
        '/api/v1/developer/keys',
        {
          billingProviderId: acmeId,
          rawApiKey: `  ${unshaped}\n`,
        },
        201,
      );
      const { key } = res.body as { key: KeyView };
      expect(key.keyPrefix).toBe(`****${unshaped.slice(-4)}`);
      const [row] = await suite.db.query<{ key_id: string; key_hash: string }>(
        'SELECT key_id, key_hash FROM api_keys WHERE id = $1',
        [key.id],
      );
      expect(row!.key_id).toMatch(/^[0-9a-f]{16}$/);
      expect(row!.key_hash).toBe(sha256(unshaped));
    });

    it('answers 409 when the same user stores the same provider key again', async () => {
      for (const raw of [shaped, unshaped]) {
        const res = await as('provider-user').post(
          '/api/v1/developer/keys',
          { billingProviderId: acmeId, rawApiKey: raw },
          409,
        );
        expect(res.body).toEqual(errorShape('conflict', 409));
        expect(JSON.stringify(res.body)).not.toContain(raw);
      }
    });

    it('lets another user store a provider key someone else stored, without revealing that row', async () => {
      for (const raw of [shaped, unshaped]) {
        const res = await as('someone-else').post(
          '/api/v1/developer/keys',
          { billingProviderId: acmeId, rawApiKey: raw },
          201,
        );
        expect((res.body as { key: KeyView }).key.keyPrefix).toBe(`****${raw.slice(-4)}`);
      }
      // Each user holds their own row, under a lookup id of its own.
      const rows = await suite.db.query<{ external_id: string; key_id: string }>(
        `SELECT u.external_id, k.key_id FROM api_keys k JOIN users u ON u.id = k.user_id
          WHERE k.key_hash = $1 ORDER BY k.created_at`,
        [sha256(shaped)],
      );
      expect(rows.map((r) => r.external_id)).toEqual(['provider-user', 'someone-else']);
      expect(rows[1]!.key_id).toMatch(/^[0-9a-f]{16}$/);
      expect(rows[1]!.key_id).not.toBe(rows[0]!.key_id);
      await as('someone-else').post(
        '/api/v1/developer/keys',
        { billingProviderId: acmeId, rawApiKey: shaped },
        409,
      );
    });

    it('refuses a rawApiKey shaped like a keysmith key (any case) with 400', async () => {
      const kskShaped = `ksk_${'1'.repeat(16)}_${'2'.repeat(64)}`;
      secrets.push(kskShaped);
      for (const raw of [kskShaped, kskShaped.toUpperCase(), `KsK_${'3'.repeat(40)}`]) {
        const res = await as('provider-user').post(
          '/api/v1/developer/keys',
          { billingProviderId: acmeId, rawApiKey: raw },
          400,
        );
        expect(res.body).toEqual(errorShape('validation_failed', 400));
      }
      expect(await suite.db.query('SELECT 1 FROM api_keys WHERE key_hash = $1', [sha256(kskShaped)])).toEqual(
        [],
      );
    });

    it.each<[string, (acme: string) => Record<string, unknown>]>([
      ['a null rawApiKey with a provider', (acme) => ({ billingProviderId: acme, rawApiKey: null })],
      [
        'a null billingProviderId with a rawApiKey',
        () => ({ billingProviderId: null, rawApiKey: 'opaqueproviderkey-nullprovider-0123456789' }),
      ],
      ['a null billingProviderId alone', () => ({ billingProviderId: null })],
    ])('rejects %s with 400 and stores nothing', async (_name, body) => {
      const before = await suite.db.query('SELECT 1 FROM api_keys');
      const res = await as('provider-user').post('/api/v1/developer/keys', body(acmeId), 400);
      expect(res.body).toEqual(errorShape('validation_failed', 400));
      expect(await suite.db.query('SELECT 1 FROM api_keys')).toHaveLength(before.length);
    });

    it('stores a second key whose embedded id another key already uses under a random id', async () => {
      const twin = 'pk_live0123ABCD_anotherSecret0123456789abcdef';
      secrets.push(twin);
      const res = await as('provider-user').post(
        '/api/v1/developer/keys',
        {
          billingProviderId: acmeId,
          rawApiKey: twin,
        },
        201,
      );
      const [row] = await suite.db.query<{ key_id: string }>('SELECT key_id FROM api_keys WHERE id = $1', [
        (res.body as { key: KeyView }).key.id,
      ]);
      expect(row!.key_id).toMatch(/^[0-9a-f]{16}$/);
    });

    it('concurrent stores of one provider key make one row and 409s', async () => {
      const raw = 'pk_race9999_concurrentSecret0123456789abcdef';
      secrets.push(raw);
      const token = await bearer('provider-racer');
      const statuses = await concurrently(6, () =>
        request(t.http)
          .post('/api/v1/developer/keys')
          .set('authorization', token)
          .send({ billingProviderId: acmeId, rawApiKey: raw })
          .then((r) => r.status),
      );
      expect(statuses.sort()).toEqual([201, 409, 409, 409, 409, 409]);
      expect(await suite.db.query('SELECT 1 FROM api_keys WHERE key_hash = $1', [sha256(raw)])).toHaveLength(
        1,
      );
    });

    it('refuses a disabled or unknown provider with 404', async () => {
      for (const id of [dormantId, '00000000-0000-4000-8000-000000000000']) {
        const res = await as('provider-user').post(
          '/api/v1/developer/keys',
          {
            billingProviderId: id,
            rawApiKey: 'pk_dormant01_neverStored0123456789abcdef',
          },
          404,
        );
        expect(res.body).toEqual(errorShape('not_found', 404));
      }
      secrets.push('pk_dormant01_neverStored0123456789abcdef');
    });
  });

  describe('validation', () => {
    const bad: [string, unknown][] = [
      ['an over-long label', { label: 'x'.repeat(101) }],
      ['a non-string label', { label: 42 }],
      ['an unknown field', { colour: 'blue' }],
      ['a smuggled userId', { userId: '00000000-0000-4000-8000-000000000000' }],
      ['rawApiKey without a provider', { rawApiKey: 'pk_orphan01_withoutProvider0123456789ab' }],
      ['a provider without rawApiKey', { billingProviderId: '00000000-0000-4000-8000-000000000000' }],
      [
        'a too-short rawApiKey',
        { billingProviderId: '00000000-0000-4000-8000-000000000000', rawApiKey: 'short' },
      ],
      [
        'a rawApiKey with inner spaces',
        {
          billingProviderId: '00000000-0000-4000-8000-000000000000',
          rawApiKey: 'has inner spaces 0123456789abcdef',
        },
      ],
      ['non-array allowedOrigins', { allowedOrigins: 'https://app.example.com' }],
      ['an origin with a path', { allowedOrigins: ['https://app.example.com/path'] }],
      ['an origin without a scheme', { allowedOrigins: ['app.example.com'] }],
      ['a non-string origin', { allowedOrigins: [42] }],
      [
        'too many origins',
        { allowedOrigins: Array.from({ length: 51 }, (_, i) => `https://h${i}.example.com`) },
      ],
      ['an unparseable expiresAt', { expiresAt: 'next tuesday' }],
      ['an impossible expiresAt', { expiresAt: '2099-02-30T00:00:00Z' }],
      ['a numeric expiresAt', { expiresAt: 4102444800000 }],
      ['a past expiresAt', { expiresAt: '2001-01-01T00:00:00Z' }],
      ['an expiresAt without a time zone', { expiresAt: '2099-01-01T00:00:00' }],
      ['a far-future expiresAt', { expiresAt: '+275760-01-01T00:00:00Z' }],
      ['a malformed projectId', { projectId: 'not-a-uuid' }],
      ['an empty projectName', { projectName: '   ' }],
      ['an over-long projectName', { projectName: 'p'.repeat(101) }],
      ['a null label', { label: null }],
      ['a null projectId', { projectId: null }],
      ['a null projectName', { projectName: null }],
      ['a null expiresAt', { expiresAt: null }],
      ['a null allowedOrigins', { allowedOrigins: null }],
      ['a null rawApiKey', { rawApiKey: null }],
      ['a NUL in the label', { label: 'ci\u0000key' }],
      ['an escape sequence in the label', { label: '\u001b[31mred' }],
      ['a newline inside the label', { label: 'two\nlines' }],
      ['a NUL in the projectName', { projectName: 'proj\u0000ect' }],
      ['a DEL in the projectName', { projectName: 'proj\u007fect' }],
    ];

    it.each(bad)('rejects %s with 400 and stores nothing', async (_name, body) => {
      const before = await suite.db.query('SELECT 1 FROM api_keys');
      const res = await as('validation-user').post('/api/v1/developer/keys', body, 400);
      expect(res.body).toEqual(errorShape('validation_failed', 400));
      expect(await suite.db.query('SELECT 1 FROM api_keys')).toHaveLength(before.length);
    });

    it('rejects a JSON array body and malformed JSON with 400', async () => {
      await as('validation-user').post('/api/v1/developer/keys', [], 400);
      await request(t.http)
        .post('/api/v1/developer/keys')
        .set('authorization', await bearer('validation-user'))
        .set('content-type', 'application/json')
        .send('{"label":')
        .expect(400);
    });

    it('rejects a body over 64 KiB with 413', async () => {
      const res = await as('validation-user').post(
        '/api/v1/developer/keys',
        { label: 'x'.repeat(70_000) },
        413,
      );
      expect(res.body).toEqual(errorShape('payload_too_large', 413));
    });
  });

  describe('listing, reading and revoking', () => {
    let keyA1: KeyView;
    let keyA2: KeyView;
    let keyB: KeyView;
    let projectA2: string;

    beforeAll(async () => {
      keyA1 = (await mint('lister-a', { label: 'one' })).key;
      keyA2 = (await mint('lister-a', { label: 'two', projectName: 'Second' })).key;
      projectA2 = keyA2.project.id;
      keyB = (await mint('lister-b', { label: 'bees' })).key;
    });

    it('lists only my keys, newest first, with project and provider joined', async () => {
      const res = await as('lister-a').get('/api/v1/developer/keys', 200);
      const body = res.body as { keys: KeyView[]; total: number };
      expect(body.total).toBe(2);
      expect(body.keys.map((k) => k.id)).toEqual([keyA2.id, keyA1.id]);
      expect(body.keys[0]).toEqual(keyA2);
    });

    it('filters by projectId', async () => {
      const res = await as('lister-a').get(`/api/v1/developer/keys?projectId=${projectA2}`, 200);
      expect((res.body as { keys: KeyView[] }).keys.map((k) => k.id)).toEqual([keyA2.id]);
    });

    it("answers 404 for a filter on another user's project", async () => {
      await as('lister-b').get(`/api/v1/developer/keys?projectId=${projectA2}`, 404);
    });

    it.each([
      ['includeRevoked=yes'],
      ['includeRevoked=true&includeRevoked=false'],
      ['projectId=nope'],
      ['limit=5'],
    ])('rejects the query %s with 400', async (query) => {
      const res = await as('lister-a').get(`/api/v1/developer/keys?${query}`, 400);
      expect(res.body).toEqual(errorShape('validation_failed', 400));
    });

    it("reads one key; another user's, an unknown and a malformed id are 404, 404 and 400", async () => {
      const own = await as('lister-a').get(`/api/v1/developer/keys/${keyA1.id}`, 200);
      // GET adds the key's consumers (none: it never resolved).
      expect(own.body).toEqual({ key: { ...keyA1, consumers: [] } });
      const foreign = await as('lister-a').get(`/api/v1/developer/keys/${keyB.id}`, 404);
      const unknown = await as('lister-a').get(
        '/api/v1/developer/keys/00000000-0000-4000-8000-000000000000',
        404,
      );
      expect(foreign.body).toEqual(unknown.body);
      const malformed = await as('lister-a').get('/api/v1/developer/keys/not-a-uuid', 400);
      expect(malformed.body).toEqual({
        error: expect.objectContaining({
          type: 'validation_failed',
          message: 'id must be a UUID',
          details: [{ field: 'id', messages: ['id must be a UUID'] }],
        }) as unknown,
      });
    });

    it("refuses to revoke another user's key with 404 and leaves it active", async () => {
      const res = await as('lister-a').del(`/api/v1/developer/keys/${keyB.id}`, 404);
      expect(res.body).toEqual(errorShape('not_found', 404));
      await as('lister-a').del('/api/v1/developer/keys/not-a-uuid', 400);
      const [row] = await suite.db.query<{ revoked_at: Date | null }>(
        'SELECT revoked_at FROM api_keys WHERE id = $1',
        [keyB.id],
      );
      expect(row!.revoked_at).toBeNull();
    });

    it('revokes idempotently under concurrency with exactly one audit row', async () => {
      const token = await bearer('lister-a');
      const responses = await concurrently(5, () =>
        request(t.http).delete(`/api/v1/developer/keys/${keyA1.id}`).set('authorization', token),
      );
      for (const res of responses) {
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ id: keyA1.id, status: 'REVOKED' });
      }
      await as('lister-a').del(`/api/v1/developer/keys/${keyA1.id}`, 200);
      const audits = await suite.db.query<{ actor: string }>(
        `SELECT actor FROM audit_events WHERE action = 'api_key.revoke' AND target_id = $1`,
        [keyA1.id],
      );
      expect(audits).toEqual([{ actor: 'session:lister-a' }]);
    });

    it('hides revoked keys unless includeRevoked=true, and counts only live keys per project', async () => {
      const live = await as('lister-a').get('/api/v1/developer/keys', 200);
      expect(live.body).toEqual({ keys: [keyA2], total: 1 });
      const all = await as('lister-a').get('/api/v1/developer/keys?includeRevoked=true', 200);
      const keys = (all.body as { keys: KeyView[]; total: number }).keys;
      expect(keys.map((k) => [k.id, k.status])).toEqual([
        [keyA2.id, 'ACTIVE'],
        [keyA1.id, 'REVOKED'],
      ]);
      expect(keys[1]!.revokedAt).toEqual(expect.any(String));
      const explicitFalse = await as('lister-a').get('/api/v1/developer/keys?includeRevoked=false', 200);
      expect((explicitFalse.body as { total: number }).total).toBe(1);
      const got = await as('lister-a').get(`/api/v1/developer/keys/${keyA1.id}`, 200);
      expect((got.body as { key: KeyView }).key.status).toBe('REVOKED');

      const projects = await as('lister-a').get('/api/v1/developer/projects', 200);
      expect(
        (projects.body as { projects: ProjectView[] }).projects.map((p) => [p.name, p.apiKeyCount]),
      ).toEqual([
        ['Default', 0],
        ['Second', 1],
      ]);
    });
  });

  it('documents every developer route in OpenAPI', async () => {
    const res = await request(t.http).get('/api/docs-json').expect(200);
    const paths = res.body.paths as Record<string, Record<string, { tags?: string[]; security?: unknown[] }>>;
    const ops = [
      paths['/api/v1/developer/keys']?.get,
      paths['/api/v1/developer/keys']?.post,
      paths['/api/v1/developer/keys/{id}']?.get,
      paths['/api/v1/developer/keys/{id}']?.delete,
      paths['/api/v1/developer/projects']?.get,
      paths['/api/v1/developer/projects']?.post,
      paths['/api/v1/billing-providers']?.get,
    ];
    for (const op of ops) {
      expect(op).toBeDefined();
      expect(op!.tags).toContain('developer');
      expect(op!.security).toEqual([{ session: [] }]);
    }
  });

  it('never writes a secret to a log line or to any table', async () => {
    expect(secrets.length).toBeGreaterThan(20);
    expect(t.logs.leaked(secrets)).toEqual([]);
    const tables = await suite.db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    expect(tables.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(['api_keys', 'audit_events', 'users']),
    );
    for (const { table_name } of tables) {
      const rows = await suite.db.query<{ row: string }>(`SELECT t::text AS row FROM "${table_name}" t`);
      const text = rows.map((r) => r.row).join('\n');
      expect({ table: table_name, leaked: secrets.filter((s) => text.includes(s)) }).toEqual({
        table: table_name,
        leaked: [],
      });
    }
  });
});
