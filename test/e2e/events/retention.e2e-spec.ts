import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { DEDUP_HORIZON_MS } from 'src/events/events.config';
import { EventsOutbox, type OutboxEvent } from 'src/events/events-outbox';
import { EventsRetention, RETENTION_BATCH, RETENTION_LOCK_KEY } from 'src/events/events-retention';
import { ExpiringSweep } from 'src/events/expiring-sweep';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { apiKey } from 'test/helpers/factories';

const ADMIN_TOKEN = 'break-glass-admin-token-for-events-retention-suite';
const ENCRYPTION_KEY = 'e2e-events-retention-master-secret-0123456789';
const BASE = '/api/v1/admin/webhooks';
const DAY = 86_400_000;

type Status = 'pending' | 'delivered' | 'failed';

/**
 * The events retention sweep (decision 0115): events older than EVENTS_RETENTION_DAYS (30 by default) go with
 * their deliveries once none is pending; an event with a dedup key stays until the dedup horizon, so an
 * expiry is never announced twice. Two instances on one database; the deliveries' endpoints are disabled, so
 * no worker changes their states under the test, which forces them in the table.
 */
describe('events: retention', () => {
  const suite = e2eSuite();
  let a: TestApp;
  let b: TestApp;
  const endpoints: string[] = [];
  const secrets: string[] = [ADMIN_TOKEN, ENCRYPTION_KEY];

  const admin = (method: 'post' | 'patch', url: string, body?: object) =>
    request(a.http)[method](url).set('authorization', `Bearer ${ADMIN_TOKEN}`).send(body);

  /** Writes `events` through the outbox, as a feature does; answers their ids in order. */
  async function emit(events: OutboxEvent[]): Promise<string[]> {
    const marker = `retention-${Math.random().toString(36).slice(2)}`;
    await a.app.get(DataSource).transaction((m) =>
      a.app.get(EventsOutbox).emitMany(
        m,
        events.map((e, i) => ({ ...e, data: { ...e.data, marker, n: String(i) } })),
      ),
    );
    const rows = await suite.db.query<{ id: string }>(
      `SELECT id FROM events WHERE data->>'marker' = $1 ORDER BY (data->>'n')::int`,
      [marker],
    );
    return rows.map((r) => r.id);
  }

  /** One event `daysAgo` old with one delivery per status (to the disabled endpoints, in order). */
  async function event(daysAgo: number, statuses: Status[] = [], dedupKey?: string): Promise<string> {
    const [id] = await emit([{ type: 'api_key.revoked', data: { keyId: 'k', reason: 'user' }, dedupKey }]);
    await age(id!, daysAgo);
    for (const [i, status] of statuses.entries())
      await suite.db.query(
        `INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempt) VALUES ($1, $2, $3, 1)`,
        [id, endpoints[i], status],
      );
    return id!;
  }

  const age = (id: string, daysAgo: number) =>
    suite.db.query(`UPDATE events SET occurred_at = $2 WHERE id = $1`, [
      id,
      new Date(Date.now() - daysAgo * DAY),
    ]);

  const left = async (ids: string[]): Promise<string[]> =>
    (await suite.db.query<{ id: string }>('SELECT id FROM events WHERE id = ANY($1)', [ids])).map(
      (r) => r.id,
    );

  const deliveriesOf = async (ids: string[]): Promise<number> =>
    (
      await suite.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM webhook_deliveries WHERE event_id = ANY($1)',
        [ids],
      )
    )[0]!.n;

  beforeAll(async () => {
    const env = { ADMIN_TOKEN, ENCRYPTION_KEY, RATE_LIMIT_ADMIN: '100000/60s' };
    a = await suite.boot(env);
    b = await suite.boot(env);
    for (const path of ['/one', '/two']) {
      const res = await admin('post', BASE, { url: `http://127.0.0.1:9${path}`, events: ['*'] }).expect(201);
      const { webhook, secret } = res.body as { webhook: { id: string }; secret: string };
      secrets.push(secret);
      await admin('patch', `${BASE}/${webhook.id}`, { enabled: false }).expect(200);
      endpoints.push(webhook.id);
    }
  });

  suite.beforeTeardown(() => {
    expect(a.logs.leaked(secrets)).toEqual([]);
  });

  it('deletes old events whose deliveries all ended, or that have none; keeps pending and recent ones', async () => {
    const gone = [await event(40), await event(40, ['delivered']), await event(31, ['failed', 'delivered'])];
    const kept = [await event(40, ['delivered', 'pending']), await event(29, ['delivered']), await event(1)];

    // Another instance holding the lock: this one skips.
    const holder = new Client({ connectionString: suite.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1)', [RETENTION_LOCK_KEY]);
      expect(await a.app.get(EventsRetention).sweep()).toEqual({ skipped: true, deleted: 0, batches: 0 });
      await holder.query('COMMIT');
    } finally {
      await holder.end();
    }
    expect(await left(gone)).toHaveLength(3);

    const runs = await Promise.all([a.app.get(EventsRetention).sweep(), b.app.get(EventsRetention).sweep()]);
    expect(runs[0].deleted + runs[1].deleted).toBe(3);
    expect(await left(gone)).toEqual([]);
    expect(await deliveriesOf(gone)).toBe(0);
    expect((await left(kept)).sort()).toEqual([...kept].sort());
    expect(await deliveriesOf(kept)).toBe(3);
  });

  it('deletes in batches of RETENTION_BATCH, walking past a whole batch of events it must keep', async () => {
    const old = (n: number) =>
      Array.from({ length: n }, () => ({ type: 'api_key.enabled' as const, data: { keyId: 'k' } }));
    const stuck = await emit(old(RETENTION_BATCH));
    await suite.db.query(`UPDATE events SET occurred_at = now() - interval '60 days' WHERE id = ANY($1)`, [
      stuck,
    ]);
    await suite.db.query(
      'INSERT INTO webhook_deliveries (event_id, endpoint_id) SELECT unnest($1::uuid[]), $2',
      [stuck, endpoints[0]],
    );
    const many = await emit(old(RETENTION_BATCH + 5));
    await suite.db.query(`UPDATE events SET occurred_at = now() - interval '50 days' WHERE id = ANY($1)`, [
      many,
    ]);
    // The first batch is all pending and the second starts after it; the third finds fewer than a batch.
    expect(await a.app.get(EventsRetention).sweep()).toEqual({
      skipped: false,
      deleted: RETENTION_BATCH + 5,
      batches: 3,
    });
    expect(await left(many)).toEqual([]);
    expect(await left(stuck)).toHaveLength(RETENTION_BATCH);
  });

  it('keeps an expiry’s event (its dedup key) to the dedup horizon: the expiry is never announced twice', async () => {
    const minted = await apiKey(a.app, 'expiring-user', {
      expiresAt: new Date(Date.now() + 3 * DAY).toISOString(),
    });
    secrets.push(minted.secret);
    const announced = async () =>
      suite.db.query<{ id: string }>(
        `SELECT id FROM events WHERE type = 'api_key.expiring' AND data->>'keyId' = $1`,
        [minted.key.id],
      );
    await a.app.get(ExpiringSweep).sweep();
    const [expiring] = await announced();
    await age(expiring!.id, 40);

    expect((await a.app.get(EventsRetention).sweep()).deleted).toBe(0);
    await a.app.get(ExpiringSweep).sweep();
    expect(await announced()).toEqual([expiring]);

    // Past the horizon (longer than any lead the configuration accepts) it goes like any other.
    const horizonDays = DEDUP_HORIZON_MS / DAY;
    const old = await event(horizonDays + 1, ['delivered'], `test.once:${Math.random()}`);
    const young = await event(horizonDays - 1, ['delivered'], `test.once:${Math.random()}`);
    expect((await a.app.get(EventsRetention).sweep()).deleted).toBe(1);
    expect(await left([old, young])).toEqual([young]);
  });

  it('a manual retry keeps an old event: the retried delivery is pending again, and a retry under way is waited for', async () => {
    const retried = await event(40, ['failed']);
    const [delivery] = await suite.db.query<{ id: string }>(
      'SELECT id FROM webhook_deliveries WHERE event_id = $1',
      [retried],
    );
    await admin('post', `${BASE}/${endpoints[0]}/deliveries/${delivery!.id}/retry`).expect(202);
    expect((await a.app.get(EventsRetention).sweep()).deleted).toBe(0);
    expect(await left([retried])).toEqual([retried]);

    // A retry's transaction holding its event: the sweep passes it by, and takes it next time.
    const held = await event(40, ['delivered']);
    const holder = new Client({ connectionString: suite.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM events WHERE id = $1 FOR KEY SHARE', [held]);
      expect((await a.app.get(EventsRetention).sweep()).deleted).toBe(0);
      await holder.query('COMMIT');
    } finally {
      await holder.end();
    }
    expect((await a.app.get(EventsRetention).sweep()).deleted).toBe(1);
    expect(await left([held])).toEqual([]);
  });
});
