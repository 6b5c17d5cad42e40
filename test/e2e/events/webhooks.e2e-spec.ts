import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { Webhook } from 'standardwebhooks';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { EventsOutbox } from 'src/events/events-outbox';
import { ExpiringSweep } from 'src/events/expiring-sweep';
import { HostResolver } from 'src/http/host-resolver';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { apiKey, revokeApiKey } from 'test/helpers/factories';
import { UNAUTHORIZED } from 'test/helpers/http';
import { plaintextInTables } from 'test/helpers/table-scan';
import { eventually } from 'test/helpers/waiting';
import { WebhookReceiver } from 'test/helpers/webhook-receiver';

const ADMIN_TOKEN = 'break-glass-admin-token-for-webhooks-suite';
const ENCRYPTION_KEY = 'e2e-webhooks-master-secret-0123456789abcdef';
const BASE = '/api/v1/admin/webhooks';
const UUID = '3f0c8a4e-8a5b-4c1e-9d2f-0a1b2c3d4e5f';
/** A name only this suite's resolver answers: public when created, private when delivered (DNS changed). */
const REBINDING = 'rebind.webhooks.test';

interface Created {
  webhook: { id: string; url: string; events: string[]; format: string; enabled: boolean; createdAt: string };
  secret: string;
}
interface Delivery {
  id: string;
  eventId: string;
  type: string;
  attempt: number;
  status: string;
  responseStatus: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
}

/**
 * Events and webhooks (API.md, "Events (webhooks)"; decision 0090): the endpoints' admin and its 400s, 401s
 * and 403s, and delivery by two instances on one database to a real receiver on loopback, verified with the
 * `standardwebhooks` package and, for `format: "set"`, with `jose` against `/.well-known/jwks.json`.
 */
describe('events: webhooks', () => {
  const suite = e2eSuite();
  let a: TestApp;
  let b: TestApp;
  let receiver: WebhookReceiver;
  let rebindTo = '93.184.216.34';
  const secrets: string[] = [ADMIN_TOKEN, ENCRYPTION_KEY];

  const admin = (credential = ADMIN_TOKEN, app?: TestApp) => {
    const http = (app ?? a).http;
    const auth = `Bearer ${credential}`;
    return {
      get: (url: string) => request(http).get(url).set('authorization', auth),
      post: (url: string, body?: object) => request(http).post(url).set('authorization', auth).send(body),
      patch: (url: string, body: object) => request(http).patch(url).set('authorization', auth).send(body),
      delete: (url: string) => request(http).delete(url).set('authorization', auth),
    };
  };

  async function endpoint(path: string, body: Record<string, unknown> = {}): Promise<Created> {
    const res = await admin()
      .post(BASE, { url: receiver.url(path), events: ['*'], ...body })
      .expect(201);
    const created = res.body as Created;
    secrets.push(created.secret);
    return created;
  }

  const deliveries = async (id: string): Promise<Delivery[]> =>
    ((await admin().get(`${BASE}/${id}/deliveries?limit=100`).expect(200)).body as { deliveries: Delivery[] })
      .deliveries;

  /** Writes one event as a feature does: in a transaction of its own. */
  const emit = (data: Record<string, string> = { keyId: UUID }) =>
    a.app
      .get(DataSource)
      .transaction((m) => a.app.get(EventsOutbox).emit(m, 'api_key.revoked', { ...data, reason: 'user' }));

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    const env = {
      ADMIN_TOKEN,
      ENCRYPTION_KEY,
      ORG_ID: 'org-webhooks',
      RATE_LIMIT_ADMIN: '100000/60s',
      RATE_LIMIT_ORG_TOKEN_MINT: '1000/1h',
      WEBHOOK_RETRY_SCHEDULE: '1s,1s,1s',
      WEBHOOK_TIMEOUT_MS: '400',
      WEBHOOK_POLL_INTERVAL_MS: '50',
      // As production: https only, loopback (this suite's receiver) excepted.
      WEBHOOK_REQUIRE_HTTPS: 'true',
    };
    a = await suite.boot(env);
    b = await suite.boot(env);
    for (const app of [a, b]) {
      const resolver = app.app.get(HostResolver);
      const real = resolver.resolve.bind(resolver);
      jest
        .spyOn(resolver, 'resolve')
        .mockImplementation(async (host: string) =>
          host === REBINDING ? [{ address: rebindTo, family: 4 }] : real(host),
        );
    }
  });

  afterAll(async () => {
    await receiver?.stop();
  });

  suite.beforeTeardown(async () => {
    expect(a.logs.leaked(secrets)).toEqual([]);
    expect(await plaintextInTables(suite.db, secrets)).toEqual([]);
  });

  describe('the admin surface', () => {
    it('creates an endpoint: 201 with the secret once, `whsec_` and base64 of 32 bytes', async () => {
      const created = await endpoint('/crud', {
        events: ['api_key.revoked'],
        description: 'incident tooling',
      });
      expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(Buffer.from(created.secret.slice(6), 'base64')).toHaveLength(32);
      expect(created.webhook).toMatchObject({
        url: receiver.url('/crud'),
        events: ['api_key.revoked'],
        format: 'standard-webhooks',
        enabled: true,
      });
      const got = await admin().get(`${BASE}/${created.webhook.id}`).expect(200);
      expect(JSON.stringify(got.body)).not.toContain(created.secret);
      const list = await admin().get(BASE).expect(200);
      expect((list.body as { webhooks: { id: string }[] }).webhooks.map((w) => w.id)).toContain(
        created.webhook.id,
      );
    });

    it('changes only the fields present, and deletes (204, then 404)', async () => {
      const { webhook } = await endpoint('/patch');
      const res = await admin()
        .patch(`${BASE}/${webhook.id}`, { events: ['user.disabled', 'user.enabled'], enabled: false })
        .expect(200);
      expect(res.body).toMatchObject({
        url: webhook.url,
        events: ['user.disabled', 'user.enabled'],
        enabled: false,
      });
      await admin().delete(`${BASE}/${webhook.id}`).expect(204);
      await admin().get(`${BASE}/${webhook.id}`).expect(404);
      await admin().delete(`${BASE}/${webhook.id}`).expect(404);
      await admin().patch(`${BASE}/${webhook.id}`, { enabled: true }).expect(404);
    });

    it.each([
      ['a URL over 2,048 characters', { url: `https://hooks.example.com/${'a'.repeat(2048)}` }],
      ['an unknown event type', { events: ['api_key.exploded'] }],
      ['an empty `events`', { events: [] }],
      ['no `events`', { events: undefined }],
      ['a duplicate type', { events: ['user.enabled', 'user.enabled'] }],
      ['an unknown format', { format: 'xml' }],
      ['a URL with credentials', { url: 'https://user:pw@hooks.example.com/' }],
      ['a relative URL', { url: '/hooks' }],
      ['an ftp URL', { url: 'ftp://hooks.example.com/' }],
      ['plain http to a public host', { url: 'http://hooks.example.com/' }],
      ['a private address', { url: 'https://10.1.2.3/hooks' }],
      ['a link-local address (cloud metadata)', { url: 'https://169.254.169.254/latest' }],
      ['a unique-local IPv6 address', { url: 'https://[fd00::1]/hooks' }],
      ['an unknown field', { secret: 'whsec_mine' }],
    ])('refuses %s with 400 and stores nothing', async (_label, change) => {
      const before = await suite.db.query<{ n: number }>('SELECT count(*)::int AS n FROM webhook_endpoints');
      const res = await admin()
        .post(BASE, { url: 'https://hooks.example.com/keysmith', events: ['*'], ...change })
        .expect(400);
      expect(res.body).toMatchObject({ error: { type: 'validation_failed', status: 400 } });
      expect(await suite.db.query('SELECT count(*)::int AS n FROM webhook_endpoints')).toEqual(before);
    });

    it('refuses a rotation grace over 7 days, a bad limit and ids that are not UUIDs', async () => {
      const { webhook } = await endpoint('/bad-input');
      await admin().post(`${BASE}/${webhook.id}/rotate-secret`, { graceSeconds: 604_801 }).expect(400);
      await admin().post(`${BASE}/${webhook.id}/rotate-secret`, { graceSeconds: -1 }).expect(400);
      await admin().get(`${BASE}/${webhook.id}/deliveries?limit=0`).expect(400);
      await admin().get(`${BASE}/${webhook.id}/deliveries?limit=101`).expect(400);
      await admin().get(`${BASE}/not-a-uuid`).expect(400);
      await admin().post(`${BASE}/${webhook.id}/deliveries/not-a-uuid/retry`).expect(400);
      await admin().post(`${BASE}/${webhook.id}/deliveries/${UUID}/retry`).expect(404);
      await admin().post(`${BASE}/${UUID}/rotate-secret`, {}).expect(404);
    });

    it('answers 401 without a credential or with a wrong one', async () => {
      await request(a.http).get(BASE).expect(401, UNAUTHORIZED);
      await admin('not-the-admin-token')
        .post(BASE, { url: 'https://x.example.com', events: ['*'] })
        .expect(401);
    });

    it('answers 403 to an org token without `webhooks:admin`; `admin:read` may only read', async () => {
      const mint = async (scopes: string[]) => {
        const res = await admin().post('/api/v1/org/tokens', { scopes }).expect(201);
        const token = (res.body as { token: string }).token;
        secrets.push(token);
        return token;
      };
      const auditor = await mint(['audit:read']);
      const reader = await mint(['admin:read']);
      const hooks = await mint(['webhooks:admin']);
      await admin(auditor).get(BASE).expect(403);
      await admin(auditor)
        .post(BASE, { url: receiver.url('/x'), events: ['*'] })
        .expect(403);
      await admin(reader).get(BASE).expect(200);
      await admin(reader)
        .post(BASE, { url: receiver.url('/x'), events: ['*'] })
        .expect(403);
      const res = await admin(hooks)
        .post(BASE, { url: receiver.url('/scoped'), events: ['*'] })
        .expect(201);
      secrets.push((res.body as Created).secret);
    });
  });

  describe('delivery', () => {
    it('500 twice then 200: three attempts with the same webhook-id, each verifiable, one delivered', async () => {
      receiver.on('/flaky', (_r, nth) => (nth <= 2 ? 500 : 200));
      const { webhook, secret } = await endpoint('/flaky', { events: ['api_key.revoked'] });
      await emit();
      await eventually(async () => (await deliveries(webhook.id))[0]?.status === 'delivered', 400);
      const got = receiver.at('/flaky');
      expect(got).toHaveLength(3);
      expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(1);
      for (const r of got) {
        const payload = new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as {
          type: string;
          data: Record<string, unknown>;
        };
        expect(payload).toMatchObject({ type: 'api_key.revoked', data: { keyId: UUID, reason: 'user' } });
        expect(r.headers['content-type']).toBe('application/json');
      }
      const [d] = await deliveries(webhook.id);
      expect(d).toMatchObject({ attempt: 3, status: 'delivered', responseStatus: 200, lastError: null });
      expect(d!.eventId).toBe(got[0]!.headers['webhook-id']);
    });

    it('a receiver that hangs is timed out and retried', async () => {
      receiver.on('/hang', (_r, nth) => (nth === 1 ? 'hang' : 204));
      const { webhook } = await endpoint('/hang', { events: ['api_key.revoked'] });
      await emit();
      await eventually(async () => (await deliveries(webhook.id))[0]?.lastError === 'timeout', 400);
      await eventually(async () => (await deliveries(webhook.id))[0]?.status === 'delivered', 400);
      expect(receiver.at('/hang')).toHaveLength(2);
    });

    it('a redirect is not followed: retried, then failed after the schedule', async () => {
      receiver.on('/redirect', () => ({ redirect: receiver.url('/redirect-target') }));
      const { webhook } = await endpoint('/redirect', { events: ['api_key.revoked'] });
      await emit();
      await eventually(async () => (await deliveries(webhook.id))[0]?.status === 'failed', 600);
      expect(await deliveries(webhook.id)).toEqual([
        expect.objectContaining({ attempt: 4, status: 'failed', responseStatus: 302, lastError: 'redirect' }),
      ]);
      expect(receiver.at('/redirect')).toHaveLength(4);
      expect(receiver.at('/redirect-target')).toHaveLength(0);
    });

    it('a name that resolves to a private address by delivery time is refused there, nothing sent', async () => {
      rebindTo = '93.184.216.34';
      const res = await admin()
        .post(BASE, { url: `https://${REBINDING}/hooks`, events: ['api_key.revoked'] })
        .expect(201);
      const created = res.body as Created;
      secrets.push(created.secret);
      rebindTo = '10.0.0.8';
      await emit();
      await eventually(async () => (await deliveries(created.webhook.id))[0]?.status === 'failed', 600);
      expect((await deliveries(created.webhook.id))[0]).toMatchObject({
        lastError: 'refused',
        responseStatus: null,
      });
      // Refused at creation too once the name resolves there.
      await admin()
        .post(BASE, { url: `https://${REBINDING}/again`, events: ['*'] })
        .expect(400);
    });

    it('a transaction that rolls back leaves no event and no delivery', async () => {
      const { webhook } = await endpoint('/rollback', { events: ['api_key.revoked'] });
      const marker = '9e0c8a4e-8a5b-4c1e-9d2f-0a1b2c3d4e5f';
      await expect(
        a.app.get(DataSource).transaction(async (m) => {
          await a.app.get(EventsOutbox).emit(m, 'api_key.revoked', { keyId: marker });
          throw new Error('the change failed');
        }),
      ).rejects.toThrow('the change failed');
      expect(await suite.db.query(`SELECT id FROM events WHERE data->>'keyId' = $1`, [marker])).toEqual([]);
      expect(await deliveries(webhook.id)).toEqual([]);
    });

    it('a manual retry sends a delivered event again with the same webhook-id (202)', async () => {
      const { webhook } = await endpoint('/retry', { events: ['api_key.revoked'] });
      await emit();
      await eventually(async () => (await deliveries(webhook.id))[0]?.status === 'delivered', 400);
      const [d] = await deliveries(webhook.id);
      await admin().post(`${BASE}/${webhook.id}/deliveries/${d!.id}/retry`).expect(202);
      await eventually(() => receiver.at('/retry').length === 2, 400);
      expect(receiver.countsById('/retry')).toEqual(new Map([[d!.eventId, 2]]));
    });

    it('sends both signatures during a rotation grace, each verifiable with its secret', async () => {
      const { webhook, secret: old } = await endpoint('/rotate', { events: ['api_key.revoked'] });
      const res = await admin()
        .post(`${BASE}/${webhook.id}/rotate-secret`, { graceSeconds: 3600 })
        .expect(201);
      const fresh = (res.body as { secret: string }).secret;
      secrets.push(fresh);
      expect(fresh).not.toBe(old);
      await emit();
      await eventually(() => receiver.at('/rotate').length === 1, 400);
      const [r] = receiver.at('/rotate');
      expect(String(r!.headers['webhook-signature']).split(' ')).toHaveLength(2);
      for (const s of [old, fresh])
        expect(() => new Webhook(s).verify(r!.body, r!.headers as Record<string, string>)).not.toThrow();
      // A rotation without grace: only the new secret signs.
      const again = await admin()
        .post(`${BASE}/${webhook.id}/rotate-secret`, { graceSeconds: 0 })
        .expect(201);
      const newest = (again.body as { secret: string }).secret;
      secrets.push(newest);
      await emit();
      await eventually(() => receiver.at('/rotate').length === 2, 400);
      const second = receiver.at('/rotate')[1]!;
      expect(String(second.headers['webhook-signature']).split(' ')).toHaveLength(1);
      expect(() =>
        new Webhook(fresh).verify(second.body, second.headers as Record<string, string>),
      ).toThrow();
      new Webhook(newest).verify(second.body, second.headers as Record<string, string>);
    });

    it('`format: "set"`: a Security Event Token that verifies against /.well-known/jwks.json', async () => {
      const { webhook } = await endpoint('/set', { format: 'set', events: ['api_key.revoked'] });
      expect(webhook.format).toBe('set');
      await emit();
      await eventually(() => receiver.at('/set').length === 1, 400);
      const [r] = receiver.at('/set');
      expect(r!.headers['content-type']).toBe('application/secevent+jwt');
      const jwks = (await request(a.http).get('/.well-known/jwks.json').expect(200)).body as JSONWebKeySet;
      const { payload, protectedHeader } = await jwtVerify(r!.body, createLocalJWKSet(jwks), {
        audience: webhook.url,
        typ: 'secevent+jwt',
      });
      expect(protectedHeader.typ).toBe('secevent+jwt');
      expect(payload.jti).toBe(r!.headers['webhook-id']);
      expect(payload.exp).toBeUndefined();
      expect(payload.events).toEqual({
        'urn:keysmith:event:api_key.revoked': { keyId: UUID, reason: 'user' },
      });
    });

    it('announces real changes: a minted and a revoked key, without their secret', async () => {
      const { webhook, secret } = await endpoint('/lifecycle', {
        events: ['api_key.created', 'api_key.revoked'],
      });
      const minted = await apiKey(a.app, 'webhook-user', { label: 'ci' });
      secrets.push(minted.secret);
      const [row] = await suite.db.query<{ key_id: string }>('SELECT key_id FROM api_keys WHERE id = $1', [
        minted.key.id,
      ]);
      await revokeApiKey(a.app, row!.key_id);
      await eventually(() => receiver.at('/lifecycle').length === 2, 400);
      const types = receiver
        .at('/lifecycle')
        .map(
          (r) =>
            new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as {
              type: string;
              data: { keyId: string };
            },
        )
        .map((p) => [p.type, p.data.keyId]);
      expect(types.sort()).toEqual([
        ['api_key.created', minted.key.id],
        ['api_key.revoked', minted.key.id],
      ]);
      for (const r of receiver.at('/lifecycle')) expect(r.body).not.toContain(minted.secret.slice(4));
      expect(await deliveries(webhook.id)).toHaveLength(2);
    });

    it('announces a reported leak and an offboarding from their own transactions', async () => {
      const { secret } = await endpoint('/leak', {
        events: ['api_key.leaked', 'api_key.revoked', 'user.disabled'],
      });
      const minted = await apiKey(a.app, 'leaky-user', { label: 'leaky' });
      secrets.push(minted.secret);
      await request(a.http).post('/api/v1/keys/revoke').send({ key: minted.secret }).expect(200);
      const other = await apiKey(a.app, 'offboarded-user');
      secrets.push(other.secret);
      const [user] = await suite.db.query<{ id: string }>(
        `SELECT id FROM users WHERE external_id = 'offboarded-user'`,
      );
      await admin()
        .post(`/api/v1/admin/users/${user!.id}/disable`, { reason: 'left the company' })
        .expect(200);
      await eventually(() => receiver.at('/leak').length === 4, 400);
      const got = receiver
        .at('/leak')
        .map(
          (r) =>
            new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as {
              type: string;
              data: Record<string, unknown>;
            },
        )
        .map((p) => `${p.type} ${String(p.data.keyId ?? p.data.userId)} ${String(p.data.reason)}`);
      expect(got.sort()).toEqual(
        [
          `api_key.leaked ${minted.key.id} reported`,
          `api_key.revoked ${minted.key.id} reported`,
          `api_key.revoked ${other.key.id} offboarding`,
          `user.disabled ${user!.id} left the company`,
        ].sort(),
      );
      for (const r of receiver.at('/leak')) expect(r.body).not.toContain(minted.secret.slice(4));
    });

    it('`expiring` fires once per key, from whichever instance sweeps', async () => {
      const { secret } = await endpoint('/expiring', { events: ['api_key.expiring'] });
      const soon = new Date(Date.now() + 3 * 86_400_000).toISOString();
      const minted = await apiKey(a.app, 'expiring-user', { expiresAt: soon });
      secrets.push(minted.secret);
      await Promise.all([a.app.get(ExpiringSweep).sweep(), b.app.get(ExpiringSweep).sweep()]);
      await a.app.get(ExpiringSweep).sweep();
      await eventually(() => receiver.at('/expiring').length >= 1, 400);
      const rows = await suite.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM events WHERE type = 'api_key.expiring' AND data->>'keyId' = $1`,
        [minted.key.id],
      );
      expect(rows).toEqual([{ n: 1 }]);
      const payload = new Webhook(secret).verify(
        receiver.at('/expiring')[0]!.body,
        receiver.at('/expiring')[0]!.headers as Record<string, string>,
      );
      expect(payload).toMatchObject({
        type: 'api_key.expiring',
        data: {
          keyId: minted.key.id,
          expiresAt: soon,
        },
      });
    });

    it('`api_key.expired` once after the expiry, `org_token.expiring` once before it', async () => {
      await endpoint('/expiry-kinds', { events: ['api_key.expired', 'org_token.expiring'] });
      const minted = await apiKey(a.app, 'expired-user', {
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      });
      secrets.push(minted.secret);
      await suite.db.query(`UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = $1`, [
        minted.key.id,
      ]);
      const token = await admin()
        .post('/api/v1/org/tokens', { expiresAt: new Date(Date.now() + 2 * 86_400_000).toISOString() })
        .expect(201);
      const { id: tokenId, token: tokenSecret } = token.body as { id: string; token: string };
      secrets.push(tokenSecret);
      await a.app.get(ExpiringSweep).sweep();
      await b.app.get(ExpiringSweep).sweep();
      await eventually(() => receiver.at('/expiry-kinds').length >= 2, 400);
      const rows = await suite.db.query<{ type: string; subject: string }>(
        `SELECT type, COALESCE(data->>'keyId', data->>'tokenId') AS subject FROM events
         WHERE type IN ('api_key.expired', 'org_token.expiring') AND COALESCE(data->>'keyId', data->>'tokenId') IN ($1, $2)
         ORDER BY type`,
        [minted.key.id, tokenId],
      );
      expect(rows).toEqual([
        { type: 'api_key.expired', subject: minted.key.id },
        { type: 'org_token.expiring', subject: tokenId },
      ]);
    });

    it('counts attempts and latency in /metrics, and the pending deliveries', async () => {
      const res = await request(a.http).get('/metrics').expect(200);
      expect(res.text).toMatch(/webhook_delivery_attempts_total\{outcome="delivered"\} [1-9]/);
      expect(res.text).toContain('webhook_delivery_duration_seconds_bucket');
      expect(res.text).toMatch(/webhook_deliveries_pending \d+/);
    });
  });
});
