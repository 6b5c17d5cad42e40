import request from 'supertest';
import { ApiKeyUsageRecorder } from 'src/api-key-resolution/api-key-usage-recorder';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { disableUser, mintDeveloperKey } from 'test/helpers/factories';
import { resolveKey, UNAUTHORIZED } from 'test/helpers/http';
import { internalEnv, m2mToken, sessionBearer } from 'test/helpers/issuers';
import { spyOnQueries } from 'test/helpers/query-spy';
import { plaintextInTables } from 'test/helpers/table-scan';

interface Consumer {
  clientId: string;
  firstResolvedAt: string;
  lastResolvedAt: string;
}

interface KeyView {
  id: string;
  lastUsedAt: string | null;
  lastUsedBy: string | null;
  consumers?: Consumer[];
}

const KEYS = '/api/v1/developer/keys';

/**
 * Key consumers (issue 19): every successful resolve records the M2M client that made it, per key, first and
 * last time, off the request path; `GET …/keys/:id` lists them (most recent first) and the key JSON shows the
 * client of the last resolve (`lastUsedBy`). Two instances share the database, as behind a load balancer.
 */
describe('API key consumers: GET /api/v1/developer/keys/:id', () => {
  const suite = e2eSuite();
  let a: TestApp;
  let b: TestApp;
  const tokens = new Map<string, string>();
  const secrets: string[] = [];

  beforeAll(async () => {
    [a, b] = await suite.bootPair();
  });

  suite.beforeTeardown(async () => {
    expect(await plaintextInTables(suite.db, secrets)).toEqual([]);
  });

  afterAll(() => {
    expect(a.logs.leaked(secrets)).toEqual([]);
  });

  /** The M2M token of client `clientId` with the resolve scope (one per client, minted once). */
  const client = async (clientId: string): Promise<string> => {
    let token = tokens.get(clientId);
    if (!token) tokens.set(clientId, (token = await m2mToken(suite.m2m, clientId, 'apikeys:resolve')));
    return token;
  };
  const resolveAs = async (
    clientId: string,
    secret: string,
    on: TestApp = a,
    status = 200,
  ): Promise<void> => {
    await resolveKey(on.http, await client(clientId), secret).expect(status);
  };
  const mint = async (sub: string, body: object = {}): Promise<{ id: string; secret: string }> => {
    const { key, secret } = await mintDeveloperKey(a.http, await sessionBearer(suite.session, sub), body);
    secrets.push(secret);
    return { id: key.id, secret };
  };
  const get = async (sub: string, id: string, status = 200): Promise<request.Response> =>
    request(a.http)
      .get(`${KEYS}/${id}`)
      .set('authorization', await sessionBearer(suite.session, sub))
      .expect(status);
  const view = async (sub: string, id: string): Promise<KeyView> =>
    ((await get(sub, id)).body as { key: KeyView }).key;
  const flush = (...apps: TestApp[]): Promise<unknown> =>
    Promise.all(apps.map((app) => app.app.get(ApiKeyUsageRecorder).flush()));
  const ms = (iso: string | null | undefined): number => Date.parse(iso ?? 'invalid');

  it('lists each M2M client that resolved the key, most recent first, with its first and last resolve', async () => {
    const { id, secret } = await mint('consumers-two');
    expect((await view('consumers-two', id)).consumers).toEqual([]);
    const before = Date.now();
    await resolveAs('billing', secret);
    await resolveAs('billing', secret);
    const billingDone = Date.now();
    await resolveAs('gateway', secret);
    const after = Date.now();
    await flush(a);

    const key = await view('consumers-two', id);
    expect(key.consumers!.map((c) => c.clientId)).toEqual(['gateway', 'billing']);
    const [gateway, billing] = key.consumers!;
    expect(ms(billing!.firstResolvedAt)).toBeGreaterThanOrEqual(before);
    expect(ms(billing!.firstResolvedAt)).toBeLessThanOrEqual(ms(billing!.lastResolvedAt));
    expect(ms(billing!.lastResolvedAt)).toBeLessThanOrEqual(billingDone);
    expect(ms(gateway!.firstResolvedAt)).toBe(ms(gateway!.lastResolvedAt));
    expect(ms(gateway!.lastResolvedAt)).toBeGreaterThanOrEqual(ms(billing!.lastResolvedAt));
    expect(ms(gateway!.lastResolvedAt)).toBeLessThanOrEqual(after);
    // The key's last use is the last resolve, and its client.
    expect(key.lastUsedBy).toBe('gateway');
    expect(key.lastUsedAt).toBe(gateway!.lastResolvedAt);

    // The list shows lastUsedBy too (not the consumers: those are GET's).
    const list = await request(a.http)
      .get(KEYS)
      .set('authorization', await sessionBearer(suite.session, 'consumers-two'))
      .expect(200);
    const listed = (list.body as { keys: KeyView[] }).keys.find((k) => k.id === id)!;
    expect(listed).toMatchObject({ lastUsedBy: 'gateway', lastUsedAt: key.lastUsedAt });
    expect(listed).not.toHaveProperty('consumers');
  });

  it('writes nothing per request: five resolves, one upsert', async () => {
    const { id, secret } = await mint('consumers-coalesced');
    await resolveAs('gateway', secret);
    await flush(a);
    const spy = spyOnQueries();
    try {
      // The first resolve of another client, then four more of it within the flush delay or just after.
      for (let i = 0; i < 5; i++) await resolveAs('coalesced', secret);
      await flush(a);
      const upserts = spy.statements().filter((q) => q.includes('INSERT INTO api_key_consumers'));
      expect(upserts).toHaveLength(1);
    } finally {
      spy.restore();
    }
    expect((await view('consumers-coalesced', id)).consumers!.map((c) => c.clientId)).toEqual([
      'coalesced',
      'gateway',
    ]);
  });

  it('both instances contribute: each one’s clients, and one row per client with the widest times', async () => {
    const { id, secret } = await mint('consumers-pair');
    await resolveAs('shared', secret, a);
    await resolveAs('only-a', secret, a);
    await resolveAs('only-b', secret, b);
    await resolveAs('shared', secret, b);
    await flush(b, a);
    const consumers = (await view('consumers-pair', id)).consumers!;
    expect(consumers.map((c) => c.clientId)).toEqual(['shared', 'only-b', 'only-a']);
    const shared = consumers[0]!;
    // First seen on a, last on b: the earliest first and the latest last of the two.
    expect(ms(shared.firstResolvedAt)).toBeLessThan(ms(shared.lastResolvedAt));
    expect(ms(shared.firstResolvedAt)).toBeLessThanOrEqual(ms(consumers[2]!.firstResolvedAt));
  });

  it('does not count refusals: a missing scope, a disabled key, a disabled user, a wrong secret', async () => {
    const scoped = await mint('consumers-refused', { scopes: ['billing:read'] });
    await request(a.http)
      .post('/api/v1/internal/api-keys/resolve')
      .set('authorization', `Bearer ${await client('refused')}`)
      .send({ key: scoped.secret, requiredScopes: ['billing:write'] })
      .expect(403);
    const disabled = await mint('consumers-refused');
    await request(a.http)
      .patch(`${KEYS}/${disabled.id}`)
      .set('authorization', await sessionBearer(suite.session, 'consumers-refused'))
      .send({ enabled: false })
      .expect(200);
    await resolveAs('refused', disabled.secret, a, 401);
    const wrongSecret = `${scoped.secret.slice(0, 21)}${'0'.repeat(64)}`;
    await resolveAs('refused', wrongSecret, a, 401);
    await flush(a);
    for (const id of [scoped.id, disabled.id]) {
      expect(await view('consumers-refused', id)).toMatchObject({
        consumers: [],
        lastUsedBy: null,
        lastUsedAt: null,
      });
    }

    const user = await mint('consumers-disabled-user');
    await disableUser(suite.db, { externalId: 'consumers-disabled-user' });
    await resolveAs('refused', user.secret, a, 403);
    await flush(a);
    // A disabled user may still read their keys.
    expect(await view('consumers-disabled-user', user.id)).toMatchObject({ consumers: [], lastUsedBy: null });
  });

  it("answers another user's key exactly like an unknown one: 404, and shows none of its consumers", async () => {
    const { id, secret } = await mint('consumers-owner');
    await resolveAs('private-service', secret);
    await flush(a);
    const theirs = await get('consumers-intruder', id, 404);
    const unknown = await get('consumers-intruder', '00000000-0000-4000-8000-000000000000', 404);
    expect(theirs.body).toEqual(unknown.body);
    expect(JSON.stringify(theirs.body)).not.toContain('private-service');
    expect((await view('consumers-owner', id)).consumers!.map((c) => c.clientId)).toEqual([
      'private-service',
    ]);
  });

  it('refuses a missing or wrong credential with the one 401, and a malformed id with 400', async () => {
    const { id } = await mint('consumers-auth');
    const none = await request(a.http).get(`${KEYS}/${id}`);
    expect({ status: none.status, body: none.body as unknown }).toEqual({ status: 401, body: UNAUTHORIZED });
    // An M2M client is not a session user, even one that resolved the key.
    const m2m = await request(a.http)
      .get(`${KEYS}/${id}`)
      .set('authorization', `Bearer ${await client('gateway')}`);
    expect({ status: m2m.status, body: m2m.body as unknown }).toEqual({ status: 401, body: UNAUTHORIZED });
    const malformed = await get('consumers-auth', 'not-a-uuid', 400);
    expect((malformed.body as { error: { type: string } }).error.type).toBe('validation_failed');
  });

  it('shows at most 20 consumers, the most recent', async () => {
    const { id, secret } = await mint('consumers-many');
    const names = Array.from({ length: 22 }, (_, i) => `svc-${String(i).padStart(2, '0')}`);
    for (const name of names) await resolveAs(name, secret);
    await flush(a);
    const shown = (await view('consumers-many', id)).consumers!;
    expect(shown).toHaveLength(20);
    // Resolved in order, so the two oldest are left out. Equal times (same millisecond) sort by client id.
    expect(shown.map((c) => c.clientId)).not.toContain('svc-00');
    for (let i = 1; i < shown.length; i++)
      expect(ms(shown[i - 1]!.lastResolvedAt)).toBeGreaterThanOrEqual(ms(shown[i]!.lastResolvedAt));
  });

  it('a resolve not yet written when the app shuts down is written before the database closes', async () => {
    const { id, secret } = await mint('consumers-shutdown');
    const c = await suite.start(internalEnv(suite.m2m, suite.session));
    await resolveAs('late-service', secret, c);
    // No explicit flush: closing the app (as closeGracefully does after the server stopped) writes it.
    await c.close();
    const key = await view('consumers-shutdown', id);
    expect(key.consumers!.map((x) => x.clientId)).toEqual(['late-service']);
    expect(key.lastUsedBy).toBe('late-service');
  });
});
