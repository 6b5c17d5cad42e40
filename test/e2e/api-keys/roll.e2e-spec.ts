import request from 'supertest';
import { ApiKeyUsageRecorder } from 'src/api-key-resolution/api-key-usage-recorder';
import { ApiKeyRevocations } from 'src/api-keys/api-key-revocations';
import { GRACE_UNUSED_SLACK_SECONDS } from 'src/api-keys/grace';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { billingProvider, disableUser, expireApiKey, mintDeveloperKey } from 'test/helpers/factories';
import { errorShape, INVALID_API_KEY, resolveKey, UNAUTHORIZED } from 'test/helpers/http';
import { m2mToken, sessionBearer } from 'test/helpers/issuers';

interface KeyView {
  id: string;
  label: string | null;
  keyPrefix: string;
  status: 'ACTIVE' | 'DISABLED' | 'EXPIRED' | 'REVOKED';
  project: { id: string; name: string };
  allowedOrigins: string[];
  scopes: string[];
  revokedAt: string | null;
  revokedReason: string | null;
  expiresAt: string | null;
  predecessorId: string | null;
  successorId: string | null;
  graceEndsAt: string | null;
}

interface Rolled {
  key: KeyView;
  secret: string;
  previous: { id: string; status: KeyView['status']; graceEndsAt: string };
}

/** Enough rounds for a race between two rolls, or a NOTIFY and the next request, to show. */
const ROUNDS = 8;
const KEYS = '/api/v1/developer/keys';
const DAY_MS = 86_400_000;

/**
 * Rolling an API key with a grace (issue 19, API.md "Key lifecycle", decision 0060): the new key inherits
 * everything and its secret is shown once; the old one resolves with `rolling` until its grace ends, on every
 * instance; concurrent rolls leave one successor.
 */
describe('rolling an API key: POST /api/v1/developer/keys/:id/roll', () => {
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
    for (const t of [a, b]) expect(t.logs.leaked(secrets)).toEqual([]);
  });

  suite.beforeTeardown(async () => {
    // Neither the new secrets nor any of their parts are stored in plaintext, audit rows included.
    const rows = await suite.db.query<{ metadata: unknown }>('SELECT metadata FROM audit_events');
    const text = JSON.stringify(rows);
    for (const secret of secrets) expect(text).not.toContain(secret.split('_')[2]!);
  });

  const bearer = (sub: string): Promise<string> => sessionBearer(suite.session, sub);
  const roll = async (
    sub: string,
    id: string,
    body?: unknown,
    on: TestApp = a,
  ): Promise<request.Response> => {
    const req = request(on.http)
      .post(`${KEYS}/${id}/roll`)
      .set('authorization', await bearer(sub));
    const res = body === undefined ? await req : await req.send(body as object);
    if (res.status === 201) secrets.push((res.body as Rolled).secret);
    return res;
  };
  const mint = async (sub: string, body: object = {}): Promise<{ key: KeyView; secret: string }> => {
    const out = await mintDeveloperKey<KeyView>(a.http, await bearer(sub), body);
    secrets.push(out.secret);
    return out;
  };
  const get = async (sub: string, id: string): Promise<KeyView> => {
    const res = await request(a.http)
      .get(`${KEYS}/${id}`)
      .set('authorization', await bearer(sub))
      .expect(200);
    return (res.body as { key: KeyView }).key;
  };
  const list = async (sub: string, query = ''): Promise<Record<string, string>> => {
    const res = await request(a.http)
      .get(`${KEYS}${query}`)
      .set('authorization', await bearer(sub))
      .expect(200);
    return Object.fromEntries((res.body as { keys: KeyView[] }).keys.map((k) => [k.id, k.status]));
  };
  const successorsOf = async (id: string): Promise<number> =>
    Number(
      (
        await suite.db.query<{ n: string }>('SELECT count(*) AS n FROM api_keys WHERE predecessor_id = $1', [
          id,
        ])
      )[0]!.n,
    );
  const keyIdOf = (secret: string): string => secret.split('_')[1]!;
  const conflict = { status: 409, body: errorShape('conflict', 409) };
  const outcome = (res: request.Response): unknown => ({ status: res.status, body: res.body as unknown });

  describe('who may call', () => {
    it('refuses a missing or wrong credential, or an M2M token, with the one 401', async () => {
      const { key } = await mint('roll-auth');
      const none = await request(a.http).post(`${KEYS}/${key.id}/roll`).send({});
      expect(outcome(none)).toEqual({ status: 401, body: UNAUTHORIZED });
      for (const credential of ['garbage', await suite.m2m.token({ sub: 'roll-auth' })]) {
        const res = await request(a.http)
          .post(`${KEYS}/${key.id}/roll`)
          .set('authorization', `Bearer ${credential}`)
          .send({});
        expect(outcome(res)).toEqual({ status: 401, body: UNAUTHORIZED });
      }
      expect(await successorsOf(key.id)).toBe(0);
    });

    it("answers another user's key exactly like an unknown one: 404, and rolls nothing", async () => {
      const { key, secret } = await mint('roll-owner');
      const theirs = await roll('roll-intruder', key.id, {});
      const unknown = await roll('roll-intruder', '00000000-0000-4000-8000-000000000000', {});
      expect(theirs.status).toBe(404);
      expect(theirs.body).toEqual(unknown.body);
      expect(await successorsOf(key.id)).toBe(0);
      const resolved = await resolveKey(a.http, resolver, secret).expect(200);
      expect(resolved.body).not.toHaveProperty('rolling');
    });

    it("refuses a disabled user's roll with 403 identity_not_allowed", async () => {
      const { key } = await mint('roll-disabled-user');
      await disableUser(suite.db, { externalId: 'roll-disabled-user' });
      expect(outcome(await roll('roll-disabled-user', key.id, {}))).toEqual({
        status: 403,
        body: errorShape('identity_not_allowed', 403),
      });
      expect(await successorsOf(key.id)).toBe(0);
    });
  });

  describe('bad input', () => {
    let id: string;
    beforeAll(async () => {
      id = (await mint('roll-bad-input')).key.id;
    });

    it('refuses a malformed id with 400', async () => {
      expect(outcome(await roll('roll-bad-input', 'not-a-uuid', {}))).toEqual({
        status: 400,
        body: errorShape('validation_failed', 400),
      });
    });

    it.each([
      ['a negative grace', { graceSeconds: -1 }],
      ['a grace over 30 days', { graceSeconds: 2_592_001 }],
      ['a fractional grace', { graceSeconds: 1.5 }],
      ['a grace as a string', { graceSeconds: '60' }],
      ['a null grace', { graceSeconds: null }],
      ['an unused limit under a minute', { endGraceWhenUnusedFor: 59 }],
      ['an unused limit over a day', { endGraceWhenUnusedFor: 86_401 }],
      ['an unused limit of 0', { endGraceWhenUnusedFor: 0 }],
      ['an unknown field', { expiresAt: '2099-01-01T00:00:00Z' }],
      ['an array body', [{ graceSeconds: 60 }]],
    ])('refuses %s with 400 and rolls nothing', async (_, body) => {
      expect(outcome(await roll('roll-bad-input', id, body))).toEqual({
        status: 400,
        body: errorShape('validation_failed', 400),
      });
      expect(await successorsOf(id)).toBe(0);
    });

    it('refuses a body over 64 KiB with 413', async () => {
      const res = await roll('roll-bad-input', id, { graceSeconds: 60, pad: 'x'.repeat(70 * 1024) });
      expect(outcome(res)).toEqual({ status: 413, body: errorShape('payload_too_large', 413) });
      expect(await successorsOf(id)).toBe(0);
    });
  });

  describe('a roll', () => {
    it('mints a successor that inherits everything, shows its secret once, and leaves the old key in its grace', async () => {
      const expiresAt = new Date(Date.now() + 30 * DAY_MS).toISOString();
      const { key: old, secret: oldSecret } = await mint('roller', {
        label: 'ci',
        projectName: 'Deploys',
        allowedOrigins: ['https://app.example'],
        scopes: ['deploy:write', 'read'],
        expiresAt,
      });
      await resolveKey(b.http, resolver, oldSecret).expect(200); // b caches the old key, not rolled yet
      const before = Date.now();
      const res = await roll('roller', old.id, { graceSeconds: 3_600 });
      expect(res.status).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const { key, secret, previous } = res.body as Rolled;
      expect(secret).toMatch(/^ksk_[0-9a-f]{16}_[0-9a-f]{64}_[0-9A-Za-z]{6}$/);
      expect(key).toMatchObject({
        label: 'ci',
        project: old.project,
        allowedOrigins: ['https://app.example'],
        scopes: ['deploy:write', 'read'],
        expiresAt,
        status: 'ACTIVE',
        predecessorId: old.id,
        successorId: null,
        graceEndsAt: null,
      });
      expect(key.id).not.toBe(old.id);
      expect(previous).toMatchObject({ id: old.id, status: 'ACTIVE' });
      const graceEndsAt = Date.parse(previous.graceEndsAt);
      expect(graceEndsAt).toBeGreaterThanOrEqual(before + 3_600_000 - 5_000);
      expect(graceEndsAt).toBeLessThanOrEqual(Date.now() + 3_600_000 + 5_000);

      // The old key, everywhere it is rendered: in its grace, pointing at its successor.
      expect(await get('roller', old.id)).toMatchObject({
        status: 'ACTIVE',
        successorId: key.id,
        predecessorId: null,
        graceEndsAt: previous.graceEndsAt,
        revokedAt: null,
        revokedReason: null,
      });
      expect(await list('roller')).toEqual({ [key.id]: 'ACTIVE', [old.id]: 'ACTIVE' });

      // Both resolve, on both instances; the old one says it is rolling (b drops its cached answer at once).
      for (const on of [b, a]) {
        const oldAnswer = await resolveKey(on.http, resolver, oldSecret).expect(200);
        expect(oldAnswer.body).toMatchObject({
          keyId: keyIdOf(oldSecret),
          scopes: ['deploy:write', 'read'],
          rolling: { successorId: key.id, graceEndsAt: previous.graceEndsAt },
        });
        // From the cache now: the same answer.
        const cached = await resolveKey(on.http, resolver, oldSecret).expect(200);
        expect((cached.body as { rolling: unknown }).rolling).toEqual({
          successorId: key.id,
          graceEndsAt: previous.graceEndsAt,
        });
        const newAnswer = await resolveKey(on.http, resolver, secret).expect(200);
        expect(newAnswer.body).toMatchObject({ keyId: keyIdOf(secret), expiresAt });
        expect(newAnswer.body).not.toHaveProperty('rolling');
      }

      // One audit row, on the old key, naming the successor and the grace, no secret.
      const audit = await suite.db.query<{ action: string; metadata: Record<string, unknown> }>(
        `SELECT action, metadata FROM audit_events WHERE target_id = $1 ORDER BY at, id`,
        [old.id],
      );
      expect(audit.map((r) => r.action)).toEqual(['api_key.create', 'api_key.roll']);
      expect(audit[1]!.metadata).toEqual({
        keyPrefix: old.keyPrefix,
        successorId: key.id,
        successorKeyPrefix: key.keyPrefix,
        graceSeconds: 3_600,
        endGraceWhenUnusedFor: null,
        graceEndsAt: previous.graceEndsAt,
      });
    });

    it('without a body, gives a grace of 24 hours', async () => {
      const { key } = await mint('roll-default');
      const before = Date.now();
      const res = await roll('roll-default', key.id);
      expect(res.status).toBe(201);
      const graceEndsAt = Date.parse((res.body as Rolled).previous.graceEndsAt);
      expect(graceEndsAt).toBeGreaterThanOrEqual(before + DAY_MS - 5_000);
      expect(graceEndsAt).toBeLessThanOrEqual(Date.now() + DAY_MS + 5_000);
    });

    it('a grace that would outlive the old key: the expiry wins', async () => {
      const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
      const { key } = await mint('roll-expiry', { expiresAt });
      const res = await roll('roll-expiry', key.id, { graceSeconds: 2_592_000 });
      expect(res.status).toBe(201);
      const { key: successor, previous } = res.body as Rolled;
      expect(previous.graceEndsAt).toBe(expiresAt);
      expect(successor.expiresAt).toBe(expiresAt);
    });

    it("counts once in its project's apiKeyCount, as its successor", async () => {
      const { key } = await mint('roll-count');
      await roll('roll-count', key.id, { graceSeconds: 3_600 });
      const res = await request(a.http)
        .get('/api/v1/developer/projects')
        .set('authorization', await bearer('roll-count'))
        .expect(200);
      expect((res.body as { projects: { apiKeyCount: number }[] }).projects).toMatchObject([
        { apiKeyCount: 1 },
      ]);
    });

    it('the JWT minted for the old key never outlives its grace', async () => {
      const { key, secret } = await mint('roll-token');
      const { previous } = (await roll('roll-token', key.id, { graceSeconds: 60 })).body as Rolled;
      const res = await resolveKey(a.http, resolver, secret).expect(200);
      const { tokenExpiresAt } = res.body as { tokenExpiresAt: string };
      expect(Date.parse(tokenExpiresAt)).toBeLessThanOrEqual(Date.parse(previous.graceEndsAt));
    });

    it('a successor can be rolled in turn', async () => {
      const { key } = await mint('roll-chain');
      const first = (await roll('roll-chain', key.id, {})).body as Rolled;
      const second = await roll('roll-chain', first.key.id, { graceSeconds: 60 });
      expect(second.status).toBe(201);
      expect((second.body as Rolled).key.predecessorId).toBe(first.key.id);
      expect(await get('roll-chain', first.key.id)).toMatchObject({
        predecessorId: key.id,
        successorId: (second.body as Rolled).key.id,
      });
    });
  });

  describe('a grace of 0', () => {
    it('refuses the old key at the very next request on the other instance, ten times over', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const { key, secret } = await mint('roll-zero');
        await resolveKey(b.http, resolver, secret).expect(200);
        await resolveKey(b.http, resolver, secret).expect(200); // from b's cache
        const res = await roll('roll-zero', key.id, { graceSeconds: 0 });
        expect(res.status).toBe(201);
        const { previous, secret: next } = res.body as Rolled;
        expect(previous.status).toBe('REVOKED');
        await resolveKey(b.http, resolver, secret).expect(401, INVALID_API_KEY);
        await resolveKey(a.http, resolver, secret).expect(401, INVALID_API_KEY);
        await resolveKey(b.http, resolver, next).expect(200);
      }
    });

    it('shows the old key REVOKED with reason rolled, revoked when its grace ended; listed only with includeRevoked', async () => {
      const { key } = await mint('roll-zero-view');
      const { previous, key: successor } = (await roll('roll-zero-view', key.id, { graceSeconds: 0 }))
        .body as Rolled;
      expect(await get('roll-zero-view', key.id)).toMatchObject({
        status: 'REVOKED',
        revokedReason: 'rolled',
        revokedAt: previous.graceEndsAt,
        graceEndsAt: previous.graceEndsAt,
        successorId: successor.id,
      });
      expect(await list('roll-zero-view')).toEqual({ [successor.id]: 'ACTIVE' });
      expect(await list('roll-zero-view', '?includeRevoked=true')).toEqual({
        [successor.id]: 'ACTIVE',
        [key.id]: 'REVOKED',
      });
    });
  });

  describe('what cannot be rolled: 409, and nothing changes', () => {
    it('a revoked key', async () => {
      const { key } = await mint('roll-409');
      await request(a.http)
        .delete(`${KEYS}/${key.id}`)
        .set('authorization', await bearer('roll-409'))
        .expect(200);
      expect(outcome(await roll('roll-409', key.id, {}))).toEqual(conflict);
      expect(await successorsOf(key.id)).toBe(0);
    });

    it('an expired key', async () => {
      const { key, secret } = await mint('roll-409', {
        expiresAt: new Date(Date.now() + DAY_MS).toISOString(),
      });
      await expireApiKey(suite.db, keyIdOf(secret));
      expect(outcome(await roll('roll-409', key.id, {}))).toEqual(conflict);
      expect(await successorsOf(key.id)).toBe(0);
    });

    it('a disabled key', async () => {
      const { key } = await mint('roll-409');
      await request(a.http)
        .patch(`${KEYS}/${key.id}`)
        .set('authorization', await bearer('roll-409'))
        .send({ enabled: false })
        .expect(200);
      expect(outcome(await roll('roll-409', key.id, {}))).toEqual(conflict);
      expect(await successorsOf(key.id)).toBe(0);
    });

    it('an already rolled key, in its grace or after it', async () => {
      for (const graceSeconds of [3_600, 0]) {
        const { key } = await mint('roll-409');
        expect((await roll('roll-409', key.id, { graceSeconds })).status).toBe(201);
        expect(outcome(await roll('roll-409', key.id, {}))).toEqual(conflict);
        expect(await successorsOf(key.id)).toBe(1);
      }
    });

    it('a key holding a scope API_KEY_SCOPES no longer lists (the catalog in force decides, decision 0017)', async () => {
      const { key } = await mint('roll-409', { scopes: ['read', 'deploy:write'] });
      const narrowed = await suite.boot({ API_KEY_SCOPES: 'read' });
      const res = await roll('roll-409', key.id, {}, narrowed);
      expect(outcome(res)).toEqual(conflict);
      expect((res.body as { error: { message: string } }).error.message).toContain('deploy:write');
      expect(await successorsOf(key.id)).toBe(0);
      expect((await roll('roll-409', key.id, {}, a)).status).toBe(201);
    });

    it('a provider-issued key', async () => {
      const acme = await billingProvider(a.app, 'acme-roll');
      const raw = `acme_live_${'r'.repeat(30)}`;
      secrets.push(raw);
      const res = await request(a.http)
        .post(KEYS)
        .set('authorization', await bearer('roll-409'))
        .send({ billingProviderId: acme.id, rawApiKey: raw })
        .expect(201);
      const { key } = res.body as { key: KeyView };
      expect(outcome(await roll('roll-409', key.id, {}))).toEqual(conflict);
      expect(await successorsOf(key.id)).toBe(0);
    });
  });

  describe('a rolled-away key on the other routes', () => {
    it('PATCH: 409, in its grace and after it', async () => {
      for (const graceSeconds of [3_600, 0]) {
        const { key } = await mint('roll-patch', { label: 'kept' });
        await roll('roll-patch', key.id, { graceSeconds });
        for (const body of [{ label: 'x' }, { enabled: false }, {}]) {
          const res = await request(a.http)
            .patch(`${KEYS}/${key.id}`)
            .set('authorization', await bearer('roll-patch'))
            .send(body);
          expect(outcome(res)).toEqual(conflict);
        }
        expect((await get('roll-patch', key.id)).label).toBe('kept');
      }
    });

    it('DELETE in the grace revokes the old key at once on both instances (reason user); after it, it stays rolled', async () => {
      const { key, secret } = await mint('roll-delete');
      const { secret: next } = (await roll('roll-delete', key.id, { graceSeconds: 3_600 })).body as Rolled;
      await resolveKey(b.http, resolver, secret).expect(200);
      await request(a.http)
        .delete(`${KEYS}/${key.id}`)
        .set('authorization', await bearer('roll-delete'))
        .expect(200);
      await resolveKey(b.http, resolver, secret).expect(401, INVALID_API_KEY);
      await resolveKey(a.http, resolver, secret).expect(401, INVALID_API_KEY);
      await resolveKey(b.http, resolver, next).expect(200);
      expect(await get('roll-delete', key.id)).toMatchObject({ status: 'REVOKED', revokedReason: 'user' });

      const { key: gone } = await mint('roll-delete');
      await roll('roll-delete', gone.id, { graceSeconds: 0 });
      const ended = await get('roll-delete', gone.id);
      await request(a.http)
        .delete(`${KEYS}/${gone.id}`)
        .set('authorization', await bearer('roll-delete'))
        .expect(200);
      expect(await get('roll-delete', gone.id)).toEqual(ended);
    });
  });

  describe('concurrent rolls of one key', () => {
    it('on two instances: one 201, one 409, one successor', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const { key, secret } = await mint('roll-race');
        const auth = await bearer('roll-race');
        const [onA, onB] = await Promise.all(
          [a, b].map((on) =>
            request(on.http).post(`${KEYS}/${key.id}/roll`).set('authorization', auth).send({}),
          ),
        );
        const statuses = [onA!.status, onB!.status].sort();
        expect(statuses).toEqual([201, 409]);
        const winner = (onA!.status === 201 ? onA! : onB!).body as Rolled;
        secrets.push(winner.secret);
        expect(await successorsOf(key.id)).toBe(1);
        const resolved = await resolveKey(b.http, resolver, secret).expect(200);
        expect((resolved.body as { rolling: { successorId: string } }).rolling.successorId).toBe(
          winner.key.id,
        );
      }
    });

    it('on one instance: of five at once, one 201 and four 409', async () => {
      const { key } = await mint('roll-race-one');
      const auth = await bearer('roll-race-one');
      const results = await Promise.all(
        Array.from({ length: 5 }, () =>
          request(a.http)
            .post(`${KEYS}/${key.id}/roll`)
            .set('authorization', auth)
            .send({ graceSeconds: 60 }),
        ),
      );
      for (const r of results) if (r.status === 201) secrets.push((r.body as Rolled).secret);
      expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
      expect(await successorsOf(key.id)).toBe(1);
    });
  });

  describe('endGraceWhenUnusedFor', () => {
    /** Moves the roll and the last use of key `id` back in time, as if that much time had passed. */
    const rewind = async (id: string, rolledAgo: string, lastUsedAgo: string | null): Promise<void> => {
      await suite.db.query(
        `UPDATE api_keys SET rolled_at = now() - $2::interval,
                last_used_at = CASE WHEN $3::interval IS NULL THEN NULL ELSE now() - $3::interval END
          WHERE id = $1`,
        [id, rolledAgo, lastUsedAgo],
      );
      // What each instance cached of it would have timed out by then.
      for (const on of [a, b]) on.app.get(ApiKeyRevocations).invalidateLocally([await lookupIdOf(id)]);
    };
    const lookupIdOf = async (id: string): Promise<string> =>
      (
        await suite.db.query<{ keyId: string }>('SELECT key_id AS "keyId" FROM api_keys WHERE id = $1', [id])
      )[0]!.keyId;

    it('keeps the grace while the old key is used within the limit (plus the precision of lastUsedAt)', async () => {
      const { key, secret } = await mint('roll-unused');
      await roll('roll-unused', key.id, { graceSeconds: 3_600, endGraceWhenUnusedFor: 60 });
      await resolveKey(a.http, resolver, secret).expect(200);
      // Rolled an hour ago, last used 90 s ago: over the 60 s asked, within what lastUsedAt can lag.
      await rewind(key.id, '1 hour', '90 seconds');
      for (const on of [a, b]) {
        const res = await resolveKey(on.http, resolver, secret).expect(200);
        expect(res.body).toHaveProperty('rolling');
      }
      expect((await get('roll-unused', key.id)).status).toBe('ACTIVE');
    });

    it('ends the grace once the old key goes unused that long: 401 on both instances, REVOKED rolled, for good', async () => {
      const { key, secret } = await mint('roll-unused');
      const { secret: next } = (
        await roll('roll-unused', key.id, { graceSeconds: 3_600, endGraceWhenUnusedFor: 60 })
      ).body as Rolled;
      await resolveKey(b.http, resolver, secret).expect(200);
      await b.app.get(ApiKeyUsageRecorder).flush();
      await rewind(key.id, '1 hour', '10 minutes');
      await resolveKey(a.http, resolver, secret).expect(401, INVALID_API_KEY);
      await resolveKey(b.http, resolver, secret).expect(401, INVALID_API_KEY);
      await resolveKey(b.http, resolver, next).expect(200);
      const [row] = await suite.db.query<{ lastUsedAt: Date }>(
        'SELECT last_used_at AS "lastUsedAt" FROM api_keys WHERE id = $1',
        [key.id],
      );
      const view = await get('roll-unused', key.id);
      expect(view).toMatchObject({ status: 'REVOKED', revokedReason: 'rolled' });
      expect(Date.parse(view.revokedAt!)).toBe(
        row!.lastUsedAt.getTime() + (60 + GRACE_UNUSED_SLACK_SECONDS) * 1000,
      );
      expect(await list('roll-unused')).not.toHaveProperty(key.id);

      // A use noted late (an instance still flushing) does not bring the grace back.
      for (const on of [a, b]) {
        const recorder = on.app.get(ApiKeyUsageRecorder);
        recorder.record(key.id);
        await recorder.flush();
      }
      const [after] = await suite.db.query<{ lastUsedAt: Date }>(
        'SELECT last_used_at AS "lastUsedAt" FROM api_keys WHERE id = $1',
        [key.id],
      );
      expect(after!.lastUsedAt).toEqual(row!.lastUsedAt);
      await resolveKey(a.http, resolver, secret).expect(401, INVALID_API_KEY);
    });

    it('counts from the roll when the old key was never used after it', async () => {
      for (const [ago, status] of [
        ['20 minutes', 401],
        ['5 minutes', 200],
      ] as const) {
        const { key, secret } = await mint('roll-unused');
        await roll('roll-unused', key.id, { graceSeconds: 3_600, endGraceWhenUnusedFor: 600 });
        await rewind(key.id, ago, null);
        await resolveKey(a.http, resolver, secret).expect(status);
      }
    });
  });
});
