import request from 'supertest';
import { API_KEY_PATTERN, hashApiKey } from 'src/api-keys/api-key-format';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { ALLOWED_ORG, internalEnv, M2M_AUDIENCE, m2mToken, type TestIssuer } from 'test/helpers/issuers';
import {
  billingProvider,
  disableUser,
  provision,
  storedProviderKey,
  type Provisioned,
} from 'test/helpers/factories';
import { errorShape, resolveKey } from 'test/helpers/http';

const PROVISION = '/api/v1/internal/provision-apikey';

/**
 * An internal service asks for a user's API key by name (M2M): the user and their default project are found
 * or created, and the user's live key of that name is replaced.
 */
describe('provisioning an API key (POST /api/v1/internal/provision-apikey)', () => {
  const suite = e2eSuite();
  let m2m: TestIssuer;
  let session: TestIssuer;
  let t: TestApp;
  let token: string;
  let resolver: string;
  const secrets: string[] = [];

  beforeAll(async () => {
    ({ m2m, session } = suite);
    t = await suite.boot();
    token = await m2mToken(m2m, 'provisioner', 'provision:apikey');
    resolver = await m2mToken(m2m, 'resolver', 'apikeys:resolve');
  });

  afterAll(async () => {
    expect(t.logs.leaked(secrets)).toEqual([]);
  });

  const post = (body: unknown, bearer: string | null = token): request.Test => {
    const req = request(t.http).post(PROVISION);
    if (bearer) req.set('authorization', `Bearer ${bearer}`);
    return req.send(body as object);
  };
  const valid = (externalId: string, extra: object = {}): object => ({
    externalId,
    email: 'ada@example.com',
    orgId: ALLOWED_ORG,
    ...extra,
  });
  const keep = (apiKey: string): string => {
    secrets.push(apiKey);
    return apiKey;
  };
  const keepProvisioned = (p: Provisioned): Provisioned => {
    keep(p.apiKey);
    return p;
  };

  describe('authentication', () => {
    it('refuses a request without a token: 401 unauthorized', async () => {
      const res = await post(valid('u-noauth'), null).expect(401);
      expect(res.body).toEqual(errorShape('unauthorized', 401));
    });

    it('refuses a session token (another issuer and audience), with the same 401', async () => {
      const sessionToken = await session.token({ sub: 'u-1', scope: 'provision:apikey' });
      const anonymous = await post(valid('u-session'), null).expect(401);
      const res = await post(valid('u-session'), sessionToken).expect(401);
      expect(res.body).toEqual(anonymous.body);
    });

    it('refuses a user token from the M2M issuer (not a client-credentials grant)', async () => {
      const userToken = await m2m.token({ sub: 'person', gty: 'password', scope: 'provision:apikey' });
      await post(valid('u-password'), userToken).expect(401);
    });

    it('refuses an M2M token on a session route', async () => {
      await request(t.http)
        .get('/api/v1/developer/projects')
        .set('authorization', `Bearer ${token}`)
        .expect(401);
    });

    it.each([
      ['expired', () => m2mToken(m2m, 'provisioner', 'provision:apikey', { expiresIn: -120 })],
      ['for another audience', () => m2m.token({ sub: 'x', aud: 'elsewhere', scope: 'provision:apikey' })],
      [
        'from another issuer',
        () => session.token({ sub: 'x', aud: M2M_AUDIENCE, iss: m2m.url, scope: 'provision:apikey' }),
      ],
      ['garbage', () => Promise.resolve('not.a.jwt')],
    ])('refuses a token that is %s with the one 401', async (_label, make) => {
      const res = await post(valid('u-bad-token'), await make()).expect(401);
      expect(res.body).toEqual(errorShape('unauthorized', 401));
    });

    it('answers 403 forbidden when the token lacks the provision:apikey scope', async () => {
      const res = await post(valid('u-scope'), resolver).expect(403);
      expect(res.body).toEqual(errorShape('forbidden', 403));
    });

    it('reads the scope from `scp` or `permissions` arrays too', async () => {
      const scp = await m2mToken(m2m, 'scp-client', { scp: ['provision:apikey'] });
      const perms = await m2mToken(m2m, 'perm-client', { permissions: ['other', 'provision:apikey'] });
      keep(((await post(valid('u-scp'), scp).expect(200)).body as { apiKey: string }).apiKey);
      keep(((await post(valid('u-perms'), perms).expect(200)).body as { apiKey: string }).apiKey);
    });
  });

  describe('validation and the org allowlist', () => {
    it('answers 403 for an org that is not allowed', async () => {
      const res = await post(valid('u-org', { orgId: 'org-evil' })).expect(403);
      expect(res.body).toEqual(errorShape('forbidden', 403));
      expect(await suite.db.query(`SELECT 1 FROM users WHERE external_id = 'u-org'`)).toHaveLength(0);
    });

    it.each([
      ['an unknown field', { extra: 1 }],
      ['a bad email', { email: 'not-an-email' }],
      ['a non-string name', { name: 42 }],
      ['an over-long externalId', { externalId: 'x'.repeat(256) }],
      ['an empty externalId', { externalId: '' }],
      ['an over-long keyName', { keyName: 'k'.repeat(101) }],
      ['an empty keyName', { keyName: '' }],
      ['an over-long name', { name: 'n'.repeat(201) }],
      ['a numeric orgId', { orgId: 7 }],
      ['a null name', { name: null }],
      ['a null keyName', { keyName: null }],
      ['a NUL in the externalId', { externalId: 'u-\u0000nul' }],
      ['a NUL in the name', { name: 'Ada\u0000' }],
      ['a control character in the keyName', { keyName: 'agent\u0007' }],
      ['a NUL in the orgId', { orgId: 'org\u0000' }],
    ])('answers 400 validation_failed for %s', async (_label, patch) => {
      const res = await post({ ...valid('u-invalid'), ...patch }).expect(400);
      expect(res.body).toEqual(errorShape('validation_failed', 400));
    });

    it.each([['externalId'], ['email'], ['orgId']])('answers 400 without %s', async (field) => {
      const body = { ...valid('u-missing') } as Record<string, unknown>;
      delete body[field];
      await post(body).expect(400);
    });

    it('answers 413 for a body over 64 KiB', async () => {
      const res = await post(valid('u-big', { name: 'n'.repeat(70 * 1024) })).expect(413);
      expect(res.body).toEqual(errorShape('payload_too_large', 413));
    });

    it('trims externalId: padded and plain name one user; blank is a 400', async () => {
      const plain = keepProvisioned(await provision(t.http, token, { externalId: 'trimmed-user' }));
      const padded = keepProvisioned(await provision(t.http, token, { externalId: '  trimmed-user \t' }));
      expect(padded.userId).toBe(plain.userId);
      const res = await post(valid('   '));
      expect(res.status).toBe(400);
      expect((res.body as { error: { type: string } }).error.type).toBe('validation_failed');
    });
  });

  describe('provisioning', () => {
    it('creates the user and default project and returns the key once, with no-store', async () => {
      const res = await post(valid('u-new', { name: 'Ada' })).expect(200);
      const body = res.body as Provisioned;
      keep(body.apiKey);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(Object.keys(body).sort()).toEqual(['apiKey', 'keyId', 'previousKeyId', 'projectId', 'userId']);
      // Nothing replaced: the user had no key of that name.
      expect(body.previousKeyId).toBeNull();
      expect(body.apiKey).toMatch(API_KEY_PATTERN);
      expect(body.apiKey.slice(4, 20)).toBe(body.keyId);

      const [user] = await suite.db.query<{ id: string; email: string; name: string }>(
        `SELECT id, email, name FROM users WHERE external_id = 'u-new'`,
      );
      expect(user).toEqual({ id: body.userId, email: 'ada@example.com', name: 'Ada' });
      const [project] = await suite.db.query<{ is_default: boolean; user_id: string }>(
        'SELECT is_default, user_id FROM projects WHERE id = $1',
        [body.projectId],
      );
      expect(project).toEqual({ is_default: true, user_id: body.userId });

      const keys = await suite.db.query<Record<string, unknown>>(
        'SELECT * FROM api_keys WHERE user_id = $1',
        [body.userId],
      );
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatchObject({
        key_id: body.keyId,
        key_hash: hashApiKey(body.apiKey),
        key_prefix: body.apiKey.slice(0, 12),
        label: 'provisioned',
        project_id: body.projectId,
        revoked_at: null,
      });
      expect(JSON.stringify(keys)).not.toContain(body.apiKey);
    });

    it('writes one audit row with the client as actor and no secret', async () => {
      const body = (await post(valid('u-audit')).expect(200)).body as { apiKey: string; keyId: string };
      keep(body.apiKey);
      const rows = await suite.db.query<{ actor: string; action: string; metadata: Record<string, unknown> }>(
        `SELECT actor, action, metadata FROM audit_events WHERE metadata->>'keyId' = $1`,
        [body.keyId],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        actor: 'm2m:provisioner',
        action: 'api_key.provisioned',
        metadata: expect.objectContaining({ keyId: body.keyId, keyName: 'provisioned', orgId: ALLOWED_ORG }),
      });
      expect(JSON.stringify(rows)).not.toContain(body.apiKey);
    });

    it('provisioning twice replaces the key: the old one no longer resolves', async () => {
      const first = await provision(t.http, token, { externalId: 'u-twice' });
      keep(first.apiKey);
      await resolveKey(t.http, resolver, first.apiKey).expect(200);
      const second = await provision(t.http, token, { externalId: 'u-twice', name: 'Renamed' });
      keep(second.apiKey);
      expect(second.userId).toBe(first.userId);
      expect(second.projectId).toBe(first.projectId);
      expect(second.apiKey).not.toBe(first.apiKey);

      const old = await resolveKey(t.http, resolver, first.apiKey).expect(401);
      expect(old.body).toEqual(errorShape('invalid_api_key', 401));
      await resolveKey(t.http, resolver, second.apiKey).expect(200);
      const [user] = await suite.db.query<{ name: string }>(
        `SELECT name FROM users WHERE external_id = 'u-twice'`,
      );
      expect(user?.name).toBe('Renamed');
    });

    it('only replaces keys of the same name', async () => {
      const a = await provision(t.http, token, { externalId: 'u-names', keyName: 'agent' });
      const b = await provision(t.http, token, { externalId: 'u-names', keyName: 'ci' });
      keep(a.apiKey);
      keep(b.apiKey);
      await resolveKey(t.http, resolver, a.apiKey).expect(200);
      await resolveKey(t.http, resolver, b.apiKey).expect(200);
    });

    it('replaces only keysmith-minted keys: a provider key labelled like the key name survives', async () => {
      const first = await provision(t.http, token, { externalId: 'u-provider-label' });
      keep(first.apiKey);
      const provider = await billingProvider(t.app, 'prov-label', 'Prov Label');
      const providerKey = 'pk_provlabel1_providerSecret0123456789abcdef';
      keep(providerKey);
      const stored = await storedProviderKey(t.app, 'u-provider-label', {
        billingProviderId: provider.id,
        rawApiKey: providerKey,
        label: 'provisioned',
      });
      const second = await provision(t.http, token, { externalId: 'u-provider-label' });
      keep(second.apiKey);
      await resolveKey(t.http, resolver, first.apiKey).expect(401);
      const rows = await suite.db.query<{ revoked_at: Date | null }>(
        'SELECT revoked_at FROM api_keys WHERE id = $1',
        [stored.id],
      );
      expect(rows).toEqual([{ revoked_at: null }]);
      const [audit] = await suite.db.query<{ metadata: { revokedKeyIds: string[] } }>(
        `SELECT metadata FROM audit_events WHERE action = 'api_key.provisioned' AND metadata->>'keyId' = $1`,
        [second.keyId],
      );
      expect(audit?.metadata.revokedKeyIds).toEqual([first.keyId]);
    });

    it('twenty concurrent provisions for one (new) user leave exactly one live key, and it resolves', async () => {
      const client = await m2mToken(m2m, 'burst-client', 'provision:apikey');
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          request(t.http).post(PROVISION).set('authorization', `Bearer ${client}`).send(valid('u-burst')),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
      const bodies = results.map((r) => r.body as { apiKey: string; userId: string; projectId: string });
      bodies.forEach((b) => keep(b.apiKey));
      expect(new Set(bodies.map((b) => b.userId)).size).toBe(1);
      expect(new Set(bodies.map((b) => b.projectId)).size).toBe(1);

      const live = await suite.db.query<{ key_hash: string }>(
        `SELECT k.key_hash FROM api_keys k JOIN users u ON u.id = k.user_id
          WHERE u.external_id = 'u-burst' AND k.revoked_at IS NULL`,
      );
      expect(live).toHaveLength(1);
      const winners = bodies.filter((b) => hashApiKey(b.apiKey) === live[0]!.key_hash);
      expect(winners).toHaveLength(1);
      await resolveKey(t.http, resolver, winners[0]!.apiKey).expect(200);
      for (const loser of bodies.filter((b) => b !== winners[0]).slice(0, 5)) {
        await resolveKey(t.http, resolver, loser.apiKey).expect(401);
      }
      expect(
        await suite.db.query(
          `SELECT 1 FROM projects p JOIN users u ON u.id = p.user_id WHERE u.external_id = 'u-burst'`,
        ),
      ).toHaveLength(1);
    });

    it('answers 403 identity_not_allowed for a disabled user and mints nothing', async () => {
      const first = await provision(t.http, token, { externalId: 'u-disabled' });
      keep(first.apiKey);
      await disableUser(suite.db, { externalId: 'u-disabled' });
      const res = await post(valid('u-disabled')).expect(403);
      expect(res.body).toEqual(errorShape('identity_not_allowed', 403));
      const keys = await suite.db.query('SELECT 1 FROM api_keys WHERE user_id = $1', [first.userId]);
      expect(keys).toHaveLength(1);
    });

    it('limits each client: over the limit is 429 with Retry-After, other clients unaffected', async () => {
      const greedy = await m2mToken(m2m, 'greedy-client', 'provision:apikey');
      // Invalid bodies are cheap and still count: the limit is checked before the body is validated.
      let limited: request.Response | undefined;
      for (let i = 0; i < 70 && !limited; i++) {
        const res = await post({ nope: true }, greedy);
        if (res.status === 429) limited = res;
        else expect(res.status).toBe(400);
      }
      expect(limited?.body).toEqual(errorShape('rate_limited', 429));
      expect(Number(limited?.headers['retry-after'])).toBeGreaterThan(0);
      keep(((await post(valid('u-after-limit')).expect(200)).body as { apiKey: string }).apiKey);
    });
  });

  it('with PROVISION_ALLOWED_ORG_IDS unset, warns at start and refuses every call with 403', async () => {
    const env = internalEnv(m2m, session);
    delete (env as Record<string, string | undefined>).PROVISION_ALLOWED_ORG_IDS;
    const other = await suite.start(env);
    try {
      // Every app of a test file logs into the file's one capture.
      expect(t.logs.text() + other.logs.text()).toContain('PROVISION_ALLOWED_ORG_IDS is unset');
      const res = await request(other.http)
        .post(PROVISION)
        .set('authorization', `Bearer ${token}`)
        .send(valid('u-unset'))
        .expect(403);
      expect(res.body).toEqual(errorShape('forbidden', 403));
    } finally {
      await other.close();
    }
  });

  it('documents both internal routes in OpenAPI with the m2m scheme', async () => {
    const res = await request(t.http).get('/api/docs-json').expect(200);
    const paths = (
      res.body as { paths: Record<string, Record<string, { security?: unknown; tags?: string[] }>> }
    ).paths;
    for (const path of ['/api/v1/internal/provision-apikey', '/api/v1/internal/api-keys/resolve']) {
      expect(paths[path]?.post?.security).toEqual([{ m2m: [] }]);
      expect(paths[path]?.post?.tags).toEqual(['internal']);
    }
    expect(paths['/.well-known/jwks.json']?.get).toBeDefined();
  });
});
