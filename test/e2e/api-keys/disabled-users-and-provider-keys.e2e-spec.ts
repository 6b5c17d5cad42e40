import { createHash } from 'node:crypto';
import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { fullEnv } from 'test/helpers/full-app';
import { secretsInTables } from 'test/helpers/table-scan';
import { m2mToken } from 'test/helpers/issuers';
import { resolveKey } from 'test/helpers/http';

const PROVIDERS = JSON.stringify([
  {
    slug: 'acme',
    name: 'Acme Billing',
    authUrl: 'https://acme.example/login',
    apiBase: 'https://acme.example',
  },
]);

/** Issue 12, items 8 (disabled users in the settings UI) and 10 (provider keys kept in plaintext). */
describe('the developer surface: disabled users, provider keys', () => {
  const suite = e2eSuite();
  let t: TestApp;
  let acmeId: string;
  const secrets: string[] = [];

  beforeAll(async () => {
    t = await suite.boot(fullEnv(suite.m2m, suite.session, { BILLING_PROVIDERS: PROVIDERS }));
    const [acme] = await suite.db.query<{ id: string }>(
      `SELECT id FROM billing_providers WHERE slug = 'acme'`,
    );
    acmeId = acme!.id;
  });

  afterAll(async () => {
    expect(t.logs.leaked(secrets)).toEqual([]);
  });

  const as = async (sub: string) => `Bearer ${await suite.session.token({ sub })}`;
  const post = async (sub: string, path: string, body: object): Promise<request.Response> =>
    request(t.http)
      .post(path)
      .set('authorization', await as(sub))
      .send(body);
  const countRows = async (table: string, sub: string): Promise<number> => {
    const [row] = await suite.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${table} x JOIN users u ON u.id = x.user_id WHERE u.external_id = $1`,
      [sub],
    );
    return Number(row!.n);
  };

  describe('item 8: a disabled user writes nothing', () => {
    const sub = 'disabled-dev';
    let keyId: string;

    beforeAll(async () => {
      const minted = await post(sub, '/api/v1/developer/keys', { label: 'before' });
      expect(minted.status).toBe(201);
      const body = minted.body as { key: { id: string }; secret: string };
      keyId = body.key.id;
      secrets.push(body.secret);
      await suite.db.query(`UPDATE users SET disabled_at = now() WHERE external_id = $1`, [sub]);
    });

    const FORBIDDEN = {
      error: { type: 'identity_not_allowed', status: 403, message: expect.any(String) as unknown },
    };

    it.each([
      ['mint a key', '/api/v1/developer/keys', {}],
      ['mint a key into a new project', '/api/v1/developer/keys', { projectName: 'new one' }],
      [
        'store a provider key',
        '/api/v1/developer/keys',
        { billingProviderId: '', rawApiKey: 'prov_disabled_0123456789abcdef' },
      ],
      ['create a project', '/api/v1/developer/projects', { name: 'blocked' }],
    ])('%s: 403 identity_not_allowed, and nothing is stored', async (_label, path, body) => {
      const sent = 'billingProviderId' in body ? { ...body, billingProviderId: acmeId } : body;
      const res = await post(sub, path, sent);
      expect({ status: res.status, body: res.body as unknown }).toEqual({ status: 403, body: FORBIDDEN });
      expect(await countRows('api_keys', sub)).toBe(1);
      expect(await countRows('projects', sub)).toBe(1);
    });

    it('revoke a key: 403 too (a disabled identity is read-only), and the key is unchanged', async () => {
      const res = await request(t.http)
        .delete(`/api/v1/developer/keys/${keyId}`)
        .set('authorization', await as(sub));
      expect({ status: res.status, body: res.body as unknown }).toEqual({ status: 403, body: FORBIDDEN });
      const [row] = await suite.db.query<{ revoked_at: Date | null }>(
        'SELECT revoked_at FROM api_keys WHERE id = $1',
        [keyId],
      );
      expect(row!.revoked_at).toBeNull();
    });

    it('delete a credential: 403 too', async () => {
      const res = await request(t.http)
        .delete('/api/v1/mcp-oauth-credentials/some-server')
        .set('authorization', await as(sub));
      expect({ status: res.status, body: res.body as unknown }).toEqual({ status: 403, body: FORBIDDEN });
    });

    it('can still read: its keys and projects are listed', async () => {
      await request(t.http)
        .get('/api/v1/developer/keys')
        .set('authorization', await as(sub))
        .expect(200);
      await request(t.http)
        .get('/api/v1/developer/projects')
        .set('authorization', await as(sub))
        .expect(200);
    });

    it('writes again once re-enabled', async () => {
      await suite.db.query(`UPDATE users SET disabled_at = NULL WHERE external_id = $1`, [sub]);
      const res = await post(sub, '/api/v1/developer/projects', { name: 'after' });
      expect(res.status).toBe(201);
    });
  });

  describe('item 10: a provider key is kept as a hash and its last 4 characters', () => {
    const raw = 'sk_live0123ABCD_s3cr3tPart0123456789abcdefWXYZ';

    it('shows and stores `****` and the last 4, nothing else of the key in any plaintext column or audit row', async () => {
      secrets.push(raw);
      const res = await post('provider-dev', '/api/v1/developer/keys', {
        billingProviderId: acmeId,
        rawApiKey: raw,
      });
      expect(res.status).toBe(201);
      const { key } = res.body as { key: { id: string; keyPrefix: string } };
      expect(key.keyPrefix).toBe('****WXYZ');
      const listed = await request(t.http)
        .get('/api/v1/developer/keys')
        .set('authorization', await as('provider-dev'));
      expect((listed.body as { keys: { keyPrefix: string }[] }).keys.map((k) => k.keyPrefix)).toEqual([
        '****WXYZ',
      ]);

      // Any 8 consecutive characters of the key but its last 4, anywhere in the database (hex included).
      const windows = Array.from({ length: raw.length - 8 - 3 }, (_, i) => raw.slice(i, i + 8));
      expect(await secretsInTables(suite.db, windows)).toEqual([]);
      const [row] = await suite.db.query<{ key_hash: string }>(
        'SELECT key_hash FROM api_keys WHERE id = $1',
        [key.id],
      );
      expect(row!.key_hash).toBe(createHash('sha256').update(raw).digest('hex'));
    });

    it('keeps a minted key’s 12-character prefix (ksk_ and 8 of its public id)', async () => {
      const res = await post('provider-dev', '/api/v1/developer/keys', {});
      const body = res.body as { key: { keyPrefix: string }; secret: string };
      secrets.push(body.secret);
      expect(body.key.keyPrefix).toBe(body.secret.slice(0, 12));
      const resolver = await m2mToken(suite.m2m, 'dev-gateway', 'apikeys:resolve');
      await resolveKey(t.http, resolver, body.secret).expect(200);
    });
  });
});
