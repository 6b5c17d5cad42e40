import request from 'supertest';
import { DataSource } from 'typeorm';
import { EventsOutbox } from 'src/events/events-outbox';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { eventually } from 'test/helpers/waiting';
import { WebhookReceiver } from 'test/helpers/webhook-receiver';

const ADMIN_TOKEN = 'break-glass-admin-token-for-webhook-pairs';
const ENCRYPTION_KEY = 'e2e-webhook-pairs-master-secret-0123456789';
const BASE = '/api/v1/admin/webhooks';
const EVENTS = 1000;

/**
 * Two instances on one database deliver together (decision 0090): every event exactly once however the
 * claims interleave, and a claim its instance abandoned (closed abruptly after claiming, before recording)
 * is taken over by the other once its lease ends.
 */
describe('events: two instances delivering', () => {
  const suite = e2eSuite();
  let a: TestApp;
  let b: TestApp;
  let receiver: WebhookReceiver;
  const secrets: string[] = [ADMIN_TOKEN, ENCRYPTION_KEY];

  const create = async (path: string, events = ['api_key.created']): Promise<string> => {
    const res = await request(a.http)
      .post(BASE)
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ url: receiver.url(path), events })
      .expect(201);
    const created = res.body as { webhook: { id: string }; secret: string };
    secrets.push(created.secret);
    return created.webhook.id;
  };

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    const env = {
      ADMIN_TOKEN,
      ENCRYPTION_KEY,
      RATE_LIMIT_ADMIN: '100000/60s',
      WEBHOOK_RETRY_SCHEDULE: '1s',
      WEBHOOK_TIMEOUT_MS: '2000',
      WEBHOOK_POLL_INTERVAL_MS: '50',
      WEBHOOK_CONCURRENCY: '16',
      WEBHOOK_CONCURRENCY_PER_ENDPOINT: '8',
    };
    a = await suite.boot(env);
    b = await suite.boot(env);
  });

  afterAll(async () => {
    await receiver?.stop();
  });

  suite.beforeTeardown(() => {
    expect(a.logs.leaked(secrets)).toEqual([]);
  });

  it(`delivers ${EVENTS} events written on both instances, each exactly once`, async () => {
    const id = await create('/pair');
    // Written from both instances, in transactions of 100 events each.
    await Promise.all(
      Array.from({ length: EVENTS / 100 }, (_, batch) => {
        const app = batch % 2 === 0 ? a : b;
        return app.app.get(DataSource).transaction((m) =>
          app.app.get(EventsOutbox).emitMany(
            m,
            Array.from({ length: 100 }, (_, i) => ({
              type: 'api_key.created' as const,
              data: { keyId: `key-${batch * 100 + i}` },
            })),
          ),
        );
      }),
    );
    await eventually(() => receiver.countsById('/pair').size === EVENTS, 2400);
    const counts = receiver.countsById('/pair');
    expect([...counts.values()].filter((n) => n !== 1)).toEqual([]);
    expect(receiver.at('/pair')).toHaveLength(EVENTS);
    const rows = await suite.db.query<{ status: string; attempt: number; n: number }>(
      `SELECT status, attempt, count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1
       GROUP BY status, attempt`,
      [id],
    );
    expect(rows).toEqual([{ status: 'delivered', attempt: 1, n: EVENTS }]);
  });

  it('a claim abandoned by a closed instance is delivered by the other once its lease ends', async () => {
    const id = await create('/abandoned');
    // What a SIGKILL between claim and result leaves: the event committed, its delivery claimed (the attempt
    // counted, a lease running) and no result. Written as such, so that no worker claims it first.
    const [claimed] = await suite.db.query<{ id: string }>(
      `WITH e AS (INSERT INTO events (type, data) VALUES ('api_key.created', '{"keyId":"abandoned"}') RETURNING id)
       INSERT INTO webhook_deliveries (event_id, endpoint_id, attempt, last_attempt_at, next_attempt_at)
       SELECT e.id, $1, 1, now(), now() + interval '1 second' FROM e RETURNING id`,
      [id],
    );
    expect(receiver.at('/abandoned')).toHaveLength(0);
    await eventually(() => receiver.at('/abandoned').length === 1, 400);
    const [row] = await suite.db.query<{ status: string; attempt: number }>(
      'SELECT status, attempt FROM webhook_deliveries WHERE id = $1',
      [claimed!.id],
    );
    expect(row).toEqual({ status: 'delivered', attempt: 2 });
  });

  it('a receiver that hangs holds at most its per-endpoint share: another endpoint is still served', async () => {
    receiver.on('/slow', () => 'hang');
    await create('/slow', ['api_key.disabled']);
    await create('/fast', ['api_key.enabled']);
    await a.app.get(DataSource).transaction((m) =>
      a.app.get(EventsOutbox).emitMany(
        m,
        Array.from({ length: 40 }, (_, i) => ({
          type: 'api_key.disabled' as const,
          data: { keyId: `slow-${i}` },
        })),
      ),
    );
    await eventually(() => receiver.at('/slow').length >= 16, 400);
    await a.app
      .get(DataSource)
      .transaction((m) => a.app.get(EventsOutbox).emit(m, 'api_key.enabled', { keyId: 'fast' }));
    await eventually(() => receiver.at('/fast').length === 1, 400);
    // 8 per endpoint on each of the two instances, whatever the 40 queued.
    expect(receiver.maxHanging).toBeLessThanOrEqual(16);
  });
});
