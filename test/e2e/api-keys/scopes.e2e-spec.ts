import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { decode, verify, type JwtPayload } from 'jsonwebtoken';
import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { billingProvider, disableUser, provision, revokeApiKey } from 'test/helpers/factories';
import { errorShape, INVALID_API_KEY } from 'test/helpers/http';
import { ALLOWED_ORG, m2mToken, sessionBearer } from 'test/helpers/issuers';

interface KeyJson {
  id: string;
  scopes: string[];
}

interface Jwks {
  keys: (JsonWebKey & { kid: string; alg: string })[];
}

const TEN_SCOPES = Array.from({ length: 10 }, (_, i) => `svc${i}:read`);
const BAD_SCOPE_LISTS: [string, unknown][] = [
  ['an upper-case scope', ['Billing:read']],
  ['a scope starting with a digit', ['1billing']],
  ['a scope with a space', ['billing read']],
  ['a 65-character scope', ['a'.repeat(65)]],
  ['an empty scope', ['']],
  ['a duplicate', ['a:b', 'c', 'a:b']],
  ['21 scopes', Array.from({ length: 21 }, (_, i) => `s${i}`)],
  ['a string instead of a list', 'a:b'],
  ['a number in the list', [1]],
  ['null', null],
];

/**
 * Scopes on API keys: minted or provisioned with the key, shown with it, answered by resolve and carried in the
 * JWT's `scope` claim; `requiredScopes` on resolve refuses a live key lacking one with 403 insufficient_scope.
 * `open` has no catalog (any scope of the form); `catalog` has API_KEY_SCOPES set. Both share the database.
 */
describe('API key scopes', () => {
  const suite = e2eSuite();
  let open: TestApp;
  let catalog: TestApp;
  let provisioner: string;
  let resolver: string;
  const secrets: string[] = [];

  beforeAll(async () => {
    open = await suite.boot();
    catalog = await suite.boot({ API_KEY_SCOPES: 'billing:read,billing:write,reports.export' });
    provisioner = await m2mToken(suite.m2m, 'provisioner', 'provision:apikey');
    resolver = await m2mToken(suite.m2m, 'gateway', 'apikeys:resolve');
  });

  afterAll(() => {
    expect(open.logs.leaked(secrets)).toEqual([]);
  });

  const mint = async (t: TestApp, sub: string, body: Record<string, unknown>): Promise<request.Response> =>
    request(t.http)
      .post('/api/v1/developer/keys')
      .set('authorization', await sessionBearer(suite.session, sub))
      .send(body);
  const provisionWith = (t: TestApp, externalId: string, extra: Record<string, unknown>): request.Test =>
    request(t.http)
      .post('/api/v1/internal/provision-apikey')
      .set('authorization', `Bearer ${provisioner}`)
      .send({ externalId, email: `${externalId}@example.com`, orgId: ALLOWED_ORG, ...extra });
  const resolve = (t: TestApp, key: string, requiredScopes?: unknown): request.Test =>
    request(t.http)
      .post('/api/v1/internal/api-keys/resolve')
      .set('authorization', `Bearer ${resolver}`)
      .send(requiredScopes === undefined ? { key } : { key, requiredScopes });
  const mintedSecret = async (scopes: string[]): Promise<string> => {
    const res = await mint(open, 'scoped-dev', { scopes });
    expect(res.status).toBe(201);
    const secret = (res.body as { secret: string }).secret;
    secrets.push(secret);
    return secret;
  };
  const claimsOf = async (t: TestApp, token: string): Promise<JwtPayload> => {
    secrets.push(token);
    const jwks = (await request(t.http).get('/.well-known/jwks.json').expect(200)).body as Jwks;
    const jwk = jwks.keys.find((k) => k.kid === decode(token, { complete: true })?.header.kid)!;
    return verify(token, createPublicKey({ key: jwk, format: 'jwk' }), {
      algorithms: [jwk.alg as 'ES256'],
    }) as JwtPayload;
  };

  describe('minting and provisioning', () => {
    it('mints a key with scopes; create, list and get show them', async () => {
      const res = await mint(open, 'scoped-dev', { label: 'scoped', scopes: ['billing:read', 'a.b-c_d'] });
      expect(res.status).toBe(201);
      const { key, secret } = res.body as { key: KeyJson; secret: string };
      secrets.push(secret);
      expect(key.scopes).toEqual(['billing:read', 'a.b-c_d']);
      const bearer = await sessionBearer(suite.session, 'scoped-dev');
      const got = await request(open.http)
        .get(`/api/v1/developer/keys/${key.id}`)
        .set('authorization', bearer)
        .expect(200);
      expect((got.body as { key: KeyJson }).key.scopes).toEqual(['billing:read', 'a.b-c_d']);
      const list = await request(open.http)
        .get('/api/v1/developer/keys')
        .set('authorization', bearer)
        .expect(200);
      const listed = (list.body as { keys: KeyJson[] }).keys.find((k) => k.id === key.id);
      expect(listed?.scopes).toEqual(['billing:read', 'a.b-c_d']);
    });

    it('a key minted without scopes has none (an empty list, a JWT without scope)', async () => {
      const res = await mint(open, 'scopeless-dev', {});
      expect(res.status).toBe(201);
      const { key, secret } = res.body as { key: KeyJson; secret: string };
      secrets.push(secret);
      expect(key.scopes).toEqual([]);
      const body = (await resolve(open, secret).expect(200)).body as { scopes: string[]; token: string };
      expect(body.scopes).toEqual([]);
      expect(await claimsOf(open, body.token)).not.toHaveProperty('scope');
    });

    it('accepts 20 scopes of 64 characters', async () => {
      const scopes = Array.from({ length: 20 }, (_, i) => `s${String(i).padStart(2, '0')}${'x'.repeat(61)}`);
      const res = await mint(open, 'scoped-dev', { scopes });
      expect(res.status).toBe(201);
      secrets.push((res.body as { secret: string }).secret);
      expect((res.body as { key: KeyJson }).key.scopes).toEqual(scopes);
    });

    it('provisions a key with scopes, and resolve answers them', async () => {
      const res = await provisionWith(open, 'prov-scoped', { scopes: ['reports.export'] }).expect(200);
      const { apiKey } = res.body as { apiKey: string };
      secrets.push(apiKey);
      const body = (await resolve(open, apiKey).expect(200)).body as { scopes: string[] };
      expect(body.scopes).toEqual(['reports.export']);
    });

    it.each(BAD_SCOPE_LISTS)(
      'refuses %s with 400 validation_failed (mint and provisioning)',
      async (_l, scopes) => {
        const minted = await mint(open, 'scoped-bad', { scopes });
        expect(minted.status).toBe(400);
        expect(minted.body).toEqual(errorShape('validation_failed', 400));
        const provisioned = await provisionWith(open, 'prov-bad', { scopes }).expect(400);
        expect(provisioned.body).toEqual(errorShape('validation_failed', 400));
      },
    );

    it('refuses scopes on a provider-issued key (it never resolves here, so nothing would check them)', async () => {
      const provider = await billingProvider(open.app, 'scoped-prov');
      const res = await mint(open, 'scoped-dev', {
        billingProviderId: provider.id,
        rawApiKey: 'opaque-0123456789abcdef0123',
        scopes: ['billing:read'],
      });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: expect.objectContaining({
          type: 'validation_failed',
          details: [{ field: 'scopes', messages: [expect.any(String)] }],
        }),
      });
    });

    describe('with API_KEY_SCOPES set', () => {
      it('mints and provisions keys with scopes of the catalog', async () => {
        const res = await mint(catalog, 'catalog-dev', { scopes: ['billing:read', 'reports.export'] });
        expect(res.status).toBe(201);
        secrets.push((res.body as { secret: string }).secret);
        const prov = await provisionWith(catalog, 'catalog-prov', { scopes: ['billing:write'] }).expect(200);
        secrets.push((prov.body as { apiKey: string }).apiKey);
      });

      it('refuses a scope outside it with 400, naming only the outsiders, storing nothing', async () => {
        const res = await mint(catalog, 'catalog-outside', {
          label: 'outside',
          scopes: ['billing:read', 'admin'],
        });
        expect(res.status).toBe(400);
        expect(res.body).toEqual({
          error: expect.objectContaining({
            type: 'validation_failed',
            details: [{ field: 'scopes', messages: ['scope admin is not allowed'] }],
          }),
        });
        const prov = await provisionWith(catalog, 'catalog-outside', {
          keyName: 'outside',
          scopes: ['admin'],
        });
        expect(prov.status).toBe(400);
        expect(prov.body).toEqual(errorShape('validation_failed', 400));
        const rows = await suite.db.query("SELECT 1 FROM api_keys WHERE label = 'outside'");
        expect(rows).toEqual([]);
      });

      it('the same scope is fine on the instance without a catalog', async () => {
        const res = await mint(open, 'catalog-outside', { scopes: ['admin'] });
        expect(res.status).toBe(201);
        secrets.push((res.body as { secret: string }).secret);
      });
    });
  });

  describe('resolve', () => {
    let secret: string;

    beforeAll(async () => {
      secret = await mintedSecret(TEN_SCOPES);
    });

    it('answers the scopes and carries them in the JWT (space-separated), verified with the JWKS', async () => {
      const body = (await resolve(open, secret).expect(200)).body as { scopes: string[]; token: string };
      expect(body.scopes).toEqual(TEN_SCOPES);
      expect((await claimsOf(open, body.token)).scope).toBe(TEN_SCOPES.join(' '));
      // From the cache too.
      const again = (await resolve(open, secret).expect(200)).body as { scopes: string[]; token: string };
      expect(again.scopes).toEqual(TEN_SCOPES);
      expect((await claimsOf(open, again.token)).scope).toBe(TEN_SCOPES.join(' '));
    });

    it('requiredScopes the key holds: 200; an empty list: 200', async () => {
      await resolve(open, secret, ['svc3:read', 'svc0:read']).expect(200);
      await resolve(open, secret, []).expect(200);
    });

    it('requiredScopes the key lacks: 403 insufficient_scope naming exactly the missing ones', async () => {
      const res = await resolve(open, secret, ['billing:write', 'svc1:read', 'reports.export']).expect(403);
      expect(res.body).toEqual({
        error: {
          type: 'insufficient_scope',
          status: 403,
          message: expect.any(String),
          details: [{ field: 'requiredScopes', messages: ['billing:write', 'reports.export'] }],
        },
      });
      expect(JSON.stringify(res.body)).not.toContain('svc1:read');
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('a key without scopes lacks every required one', async () => {
      const none = await mintedSecret([]);
      const res = await resolve(open, none, ['svc0:read']).expect(403);
      expect(res.body).toEqual(errorShape('insufficient_scope', 403));
    });

    it('unknown, malformed and revoked keys answer 401 before any scope check', async () => {
      await resolve(open, 'ksk_0123456789abcdef_' + '0'.repeat(64), ['svc0:read']).expect(
        401,
        INVALID_API_KEY,
      );
      await resolve(open, 'not-a-key', ['nope']).expect(401, INVALID_API_KEY);
      const doomed = await mintedSecret(['svc0:read']);
      await resolve(open, doomed, ['svc0:read']).expect(200);
      await revokeApiKey(open.app, doomed.split('_')[1]!);
      await resolve(open, doomed, ['other']).expect(401, INVALID_API_KEY);
      await resolve(open, doomed, ['svc0:read']).expect(401, INVALID_API_KEY);
    });

    it('a disabled user’s key stays 403 identity_not_allowed, whatever requiredScopes asks', async () => {
      const p = await provision(open.http, provisioner, { externalId: 'scoped-disabled' });
      secrets.push(p.apiKey);
      await disableUser(suite.db, { id: p.userId });
      const res = await resolve(open, p.apiKey, ['svc0:read']).expect(403);
      expect(res.body).toEqual(errorShape('identity_not_allowed', 403));
    });

    it.each(BAD_SCOPE_LISTS)(
      'refuses requiredScopes with %s: 400 validation_failed',
      async (_l, requiredScopes) => {
        const res = await resolve(open, secret, requiredScopes).expect(400);
        expect(res.body).toEqual(errorShape('validation_failed', 400));
      },
    );

    it('a required scope outside the catalog is simply one the key lacks (403, not 400)', async () => {
      const p = await provision(catalog.http, provisioner, { externalId: 'catalog-resolve' });
      secrets.push(p.apiKey);
      const res = await resolve(catalog, p.apiKey, ['not-in-catalog']).expect(403);
      expect(res.body).toEqual(errorShape('insufficient_scope', 403));
    });
  });
});
