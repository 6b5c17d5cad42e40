import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import {
  billingProvider,
  disableUser,
  expireApiKey,
  mintDeveloperKey,
  provision,
} from 'test/helpers/factories';
import { errorShape, INVALID_API_KEY, resolveKey, UNAUTHORIZED } from 'test/helpers/http';
import { m2mToken, sessionBearer } from 'test/helpers/issuers';

interface KeyView {
  id: string;
  label: string | null;
  status: 'ACTIVE' | 'DISABLED' | 'EXPIRED' | 'REVOKED';
  allowedOrigins: string[];
  revokedAt: string | null;
  revokedReason: string | null;
  disabledAt: string | null;
  expiresAt: string | null;
  lastUsedAt: string | null;
  lastUsedBy: string | null;
}

/** Enough rounds for a race between a NOTIFY and the next request to show, were the caches not fenced. */
const ROUNDS = 10;
const KEYS = '/api/v1/developer/keys';

/**
 * Key states on the developer surface (issue 19): PATCH changes a key's label, expiry, allowed origins and
 * whether it is enabled; every change resolution reads reaches both instances at the next request.
 */
describe('API key states: PATCH /api/v1/developer/keys/:id', () => {
  const suite = e2eSuite();
  let a: TestApp;
  let b: TestApp;
  let resolver: string;
  const secrets: string[] = [];

  beforeAll(async () => {
    [a, b] = await suite.bootPair();
    resolver = await m2mToken(suite.m2m, 'gateway', 'apikeys:resolve');
  });

  afterAll(() => {
    expect(a.logs.leaked(secrets)).toEqual([]);
  });

  const bearer = (sub: string): Promise<string> => sessionBearer(suite.session, sub);
  const patch = async (sub: string, id: string, body: unknown, on: TestApp = a): Promise<request.Response> =>
    request(on.http)
      .patch(`${KEYS}/${id}`)
      .set('authorization', await bearer(sub))
      .send(body as object);
  const mint = async (sub: string, body: object = {}): Promise<{ key: KeyView; secret: string }> => {
    const out = await mintDeveloperKey<KeyView>(a.http, await bearer(sub), body);
    secrets.push(out.secret);
    return out;
  };
  const keyIdOf = (secret: string): string => secret.split('_')[1]!;
  const actions = async (id: string): Promise<string[]> =>
    (
      await suite.db.query<{ action: string }>(
        'SELECT action FROM audit_events WHERE target_id = $1 ORDER BY at, id',
        [id],
      )
    ).map((r) => r.action);

  describe('who may call', () => {
    it('refuses a missing or wrong credential with the one 401', async () => {
      const { key } = await mint('auth-owner');
      const none = await request(a.http).patch(`${KEYS}/${key.id}`).send({ enabled: false });
      expect({ status: none.status, body: none.body as unknown }).toEqual({
        status: 401,
        body: UNAUTHORIZED,
      });
      for (const credential of ['garbage', await suite.m2m.token({ sub: 'auth-owner' })]) {
        const res = await request(a.http)
          .patch(`${KEYS}/${key.id}`)
          .set('authorization', `Bearer ${credential}`)
          .send({ enabled: false });
        expect({ status: res.status, body: res.body as unknown }).toEqual({
          status: 401,
          body: UNAUTHORIZED,
        });
      }
      expect((await patch('auth-owner', key.id, {})).body).toMatchObject({ key: { status: 'ACTIVE' } });
    });

    it("answers another user's key exactly like an unknown one: 404, and changes nothing", async () => {
      const { key, secret } = await mint('owner-404');
      const theirs = await patch('intruder-404', key.id, { enabled: false });
      const unknown = await patch('intruder-404', '00000000-0000-4000-8000-000000000000', { enabled: false });
      expect(theirs.status).toBe(404);
      expect(theirs.body).toEqual(unknown.body);
      await resolveKey(a.http, resolver, secret).expect(200);
    });

    it("refuses a disabled user's change with 403 identity_not_allowed", async () => {
      const { key } = await mint('disabled-user');
      await disableUser(suite.db, { externalId: 'disabled-user' });
      const res = await patch('disabled-user', key.id, { label: 'x' });
      expect({ status: res.status, body: res.body as unknown }).toEqual({
        status: 403,
        body: errorShape('identity_not_allowed', 403),
      });
    });
  });

  describe('bad input', () => {
    let id: string;
    beforeAll(async () => {
      id = (await mint('bad-input', { label: 'kept' })).key.id;
    });

    it('refuses a malformed id with 400', async () => {
      const res = await patch('bad-input', 'not-a-uuid', { label: 'x' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(errorShape('validation_failed', 400));
    });

    it.each([
      ['an unknown field', { name: 'x' }],
      ['a label of the wrong type', { label: 5 }],
      ['a label over 100 characters', { label: 'x'.repeat(101) }],
      ['a label with control characters', { label: 'a\u0000b' }],
      ['an expiry in the past', { expiresAt: '2001-01-01T00:00:00Z' }],
      ['an unparseable expiry', { expiresAt: 'tomorrow' }],
      ['a null expiry', { expiresAt: null }],
      ['an origin with a path', { allowedOrigins: ['https://a.example/path'] }],
      [
        'more than 50 origins',
        { allowedOrigins: Array.from({ length: 51 }, (_, i) => `https://o${i}.example`) },
      ],
      ['enabled as a string', { enabled: 'false' }],
      ['enabled as null', { enabled: null }],
      ['an array body', [{ enabled: false }]],
    ])('refuses %s with 400 and changes nothing', async (_, body) => {
      const res = await patch('bad-input', id, body);
      expect({ status: res.status, body: res.body as unknown }).toEqual({
        status: 400,
        body: errorShape('validation_failed', 400),
      });
      const after = await request(a.http)
        .get(`${KEYS}/${id}`)
        .set('authorization', await bearer('bad-input'));
      expect(after.body).toMatchObject({ key: { label: 'kept', status: 'ACTIVE', allowedOrigins: [] } });
    });

    it('refuses a body over 64 KiB with 413', async () => {
      const res = await patch('bad-input', id, { label: 'x'.repeat(70 * 1024) });
      expect(res.status).toBe(413);
      expect(res.body).toEqual(errorShape('payload_too_large', 413));
    });
  });

  describe('each field', () => {
    it('changes the label, and an empty one removes it; a label change is audited as an update', async () => {
      const { key } = await mint('labels', { label: 'first' });
      expect((await patch('labels', key.id, { label: '  second  ' })).body).toMatchObject({
        key: { label: 'second', status: 'ACTIVE' },
      });
      expect((await patch('labels', key.id, { label: '' })).body).toMatchObject({ key: { label: null } });
      expect(await actions(key.id)).toEqual(['api_key.create', 'api_key.update', 'api_key.update']);
    });

    it('an empty body changes nothing: 200 with the key, no audit row', async () => {
      const { key } = await mint('empty-body', { label: 'same' });
      const res = await patch('empty-body', key.id, {});
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ key });
      expect(await actions(key.id)).toEqual(['api_key.create']);
    });

    it('sets a new expiry, which resolve answers with on both instances', async () => {
      const { key, secret } = await mint('expiry');
      await resolveKey(b.http, resolver, secret).expect(200); // b caches it, with no expiry
      const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
      expect((await patch('expiry', key.id, { expiresAt })).body).toMatchObject({ key: { expiresAt } });
      for (const on of [a, b]) {
        const res = await resolveKey(on.http, resolver, secret).expect(200);
        expect(res.body).toMatchObject({ expiresAt });
      }
    });

    it('replaces the allowed origins (normalised, deduplicated), on both instances at the next call', async () => {
      const { key, secret } = await mint('origins', { allowedOrigins: ['https://old.example'] });
      await resolveKey(b.http, resolver, secret).expect(200);
      const res = await patch('origins', key.id, {
        allowedOrigins: ['HTTPS://New.Example', 'https://new.example', 'http://localhost:3000'],
      });
      expect(res.body).toMatchObject({
        key: { allowedOrigins: ['https://new.example', 'http://localhost:3000'] },
      });
      const resolved = await resolveKey(b.http, resolver, secret).expect(200);
      expect(resolved.body).toMatchObject({
        allowedOrigins: ['https://new.example', 'http://localhost:3000'],
      });
      expect(await actions(key.id)).toEqual(['api_key.create', 'api_key.update']);
    });

    it('enabled:false disables the key (401 at once), enabled:true restores it unchanged; both audited', async () => {
      const { key, secret } = await mint('toggle', {
        label: 'kept',
        allowedOrigins: ['https://app.example'],
      });
      await resolveKey(a.http, resolver, secret).expect(200);
      const off = await patch('toggle', key.id, { enabled: false });
      expect(off.body).toMatchObject({ key: { status: 'DISABLED', disabledAt: expect.any(String) } });
      await resolveKey(a.http, resolver, secret).expect(401, INVALID_API_KEY);
      await resolveKey(a.http, resolver, secret).expect(401, INVALID_API_KEY); // a cached refusal
      // Disabling again keeps the first disabledAt and writes no second row.
      const again = await patch('toggle', key.id, { enabled: false });
      expect((again.body as { key: KeyView }).key.disabledAt).toBe(
        (off.body as { key: KeyView }).key.disabledAt,
      );
      const on = await patch('toggle', key.id, { enabled: true });
      const { lastUsedAt: _lastUsedAt, lastUsedBy: _lastUsedBy, ...unchanged } = key;
      // Everything as it was; only the last use (lastUsedAt, lastUsedBy) may have moved meanwhile.
      expect((on.body as { key: KeyView }).key).toMatchObject(unchanged);
      await resolveKey(a.http, resolver, secret).expect(200);
      expect(await actions(key.id)).toEqual(['api_key.create', 'api_key.disable', 'api_key.enable']);
    });

    it('lists a disabled key by default; an expired one only with includeRevoked=true', async () => {
      const disabled = await mint('listing');
      const expired = await mint('listing');
      const revoked = await mint('listing');
      await patch('listing', disabled.key.id, { enabled: false });
      await expireApiKey(suite.db, keyIdOf(expired.secret));
      await request(a.http)
        .delete(`${KEYS}/${revoked.key.id}`)
        .set('authorization', await bearer('listing'));
      const list = async (query: string): Promise<Record<string, string>> => {
        const res = await request(a.http)
          .get(`${KEYS}${query}`)
          .set('authorization', await bearer('listing'));
        const { keys } = res.body as { keys: KeyView[] };
        return Object.fromEntries(keys.map((k) => [k.id, k.status]));
      };
      expect(await list('')).toEqual({ [disabled.key.id]: 'DISABLED' });
      expect(await list('?includeRevoked=true')).toEqual({
        [disabled.key.id]: 'DISABLED',
        [expired.key.id]: 'EXPIRED',
        [revoked.key.id]: 'REVOKED',
      });
    });
  });

  describe('revoked keys and revocation reasons', () => {
    it('a revoke by its user records reason user; a revoked key cannot be changed: 409', async () => {
      const { key, secret } = await mint('revoked');
      await patch('revoked', key.id, { enabled: false });
      const del = await request(a.http)
        .delete(`${KEYS}/${key.id}`)
        .set('authorization', await bearer('revoked'));
      expect(del.status).toBe(200);
      for (const body of [{ enabled: true }, { label: 'x' }, {}]) {
        const res = await patch('revoked', key.id, body);
        expect({ status: res.status, body: res.body as unknown }).toEqual({
          status: 409,
          body: errorShape('conflict', 409),
        });
      }
      const after = await request(a.http)
        .get(`${KEYS}/${key.id}`)
        .set('authorization', await bearer('revoked'));
      expect(after.body).toMatchObject({ key: { status: 'REVOKED', revokedReason: 'user' } });
      await resolveKey(a.http, resolver, secret).expect(401, INVALID_API_KEY);
    });

    it('a key provisioning replaced records reason provisioning', async () => {
      const provisioner = await m2mToken(suite.m2m, 'provisioner', 'provision:apikey');
      const first = await provision(a.http, provisioner, { externalId: 'replaced' });
      const second = await provision(a.http, provisioner, { externalId: 'replaced' });
      secrets.push(first.apiKey, second.apiKey);
      const res = await request(a.http)
        .get(`${KEYS}?includeRevoked=true`)
        .set('authorization', await bearer('replaced'));
      const { keys } = res.body as { keys: KeyView[] };
      expect(keys.map((k) => [k.status, k.revokedReason])).toEqual([
        ['ACTIVE', null],
        ['REVOKED', 'provisioning'],
      ]);
    });
  });

  describe('provider-issued keys', () => {
    it('accept label and enabled; expiresAt or allowedOrigins are a 400', async () => {
      const acme = await billingProvider(a.app, 'acme-states');
      const raw = `acme_live_${'z'.repeat(30)}`;
      secrets.push(raw);
      const res = await request(a.http)
        .post(KEYS)
        .set('authorization', await bearer('provider-user'))
        .send({ billingProviderId: acme.id, rawApiKey: raw })
        .expect(201);
      const { key } = res.body as { key: KeyView };
      for (const body of [
        { expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
        { allowedOrigins: [] },
        { label: 'x', allowedOrigins: ['https://a.example'] },
      ]) {
        const refused = await patch('provider-user', key.id, body);
        expect({ status: refused.status, body: refused.body as unknown }).toEqual({
          status: 400,
          body: errorShape('validation_failed', 400),
        });
      }
      expect((await patch('provider-user', key.id, { label: 'billing', enabled: false })).body).toMatchObject(
        {
          key: { label: 'billing', status: 'DISABLED', expiresAt: null, allowedOrigins: [] },
        },
      );
      expect((await patch('provider-user', key.id, { enabled: true })).body).toMatchObject({
        key: { status: 'ACTIVE' },
      });
    });
  });

  describe('across instances', () => {
    it('a disable followed at once by a resolve on the other instance: refused; an enable: served again', async () => {
      const { key, secret } = await mint('across');
      for (let round = 0; round < ROUNDS; round++) {
        await resolveKey(b.http, resolver, secret).expect(200);
        await resolveKey(b.http, resolver, secret).expect(200); // from b's cache
        expect((await patch('across', key.id, { enabled: false })).status).toBe(200);
        await resolveKey(b.http, resolver, secret).expect(401, INVALID_API_KEY);
        await resolveKey(b.http, resolver, secret).expect(401, INVALID_API_KEY); // b's cached refusal
        expect((await patch('across', key.id, { enabled: true })).status).toBe(200);
        await resolveKey(b.http, resolver, secret).expect(200);
      }
    });

    it('an expiry moved on one instance is honoured by the other at the next call', async () => {
      const { key, secret } = await mint('across-expiry');
      await resolveKey(b.http, resolver, secret).expect(200);
      const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
      await patch('across-expiry', key.id, { expiresAt });
      expect((await resolveKey(b.http, resolver, secret).expect(200)).body).toMatchObject({ expiresAt });
    });
  });

  describe('a change racing a revocation', () => {
    it('PATCH and DELETE at once, on two instances: the key ends revoked, never re-enabled', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const { key, secret } = await mint(`race-${round}`);
        await patch(`race-${round}`, key.id, { enabled: false });
        const auth = await bearer(`race-${round}`);
        const [patched, deleted] = await Promise.all([
          request(a.http).patch(`${KEYS}/${key.id}`).set('authorization', auth).send({ enabled: true }),
          request(b.http).delete(`${KEYS}/${key.id}`).set('authorization', auth),
        ]);
        expect(deleted.status).toBe(200);
        // The PATCH went first (200) or found the key revoked (409); either way the key is revoked now.
        expect([200, 409]).toContain(patched.status);
        const after = await request(a.http).get(`${KEYS}/${key.id}`).set('authorization', auth);
        expect(after.body).toMatchObject({ key: { status: 'REVOKED', revokedReason: 'user' } });
        await resolveKey(a.http, resolver, secret).expect(401, INVALID_API_KEY);
        await resolveKey(b.http, resolver, secret).expect(401, INVALID_API_KEY);
      }
    });
  });
});
