import request from 'supertest';
import { DataSource } from 'typeorm';
import type { EventType } from 'src/events/event-types';
import { EventsOutbox } from 'src/events/events-outbox';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { eventually } from 'test/helpers/waiting';
import { WebhookReceiver } from 'test/helpers/webhook-receiver';

const ADMIN_TOKEN = 'break-glass-admin-token-for-endpoint-isolation';
const ENCRYPTION_KEY = 'e2e-webhooks-isolation-secret-0123456789abc';
const BASE = '/api/v1/admin/webhooks';

/**
 * Issue 22: a per-endpoint concurrency bound, so one slow receiver cannot hold every worker. Its backlog must
 * not hold the other endpoints' deliveries either: a receiver that hangs with many deliveries due before
 * another endpoint's must not keep that endpoint's from being sent.
 */
describe('events: a hanging receiver with a backlog does not hold back other endpoints', () => {
  const suite = e2eSuite();
  let a: TestApp;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    a = await suite.boot({
      ADMIN_TOKEN,
      ENCRYPTION_KEY,
      RATE_LIMIT_ADMIN: '100000/60s',
      WEBHOOK_CONCURRENCY: '2',
      WEBHOOK_CONCURRENCY_PER_ENDPOINT: '1',
      // The slow receiver's attempts hang for the whole test.
      WEBHOOK_TIMEOUT_MS: '60000',
      WEBHOOK_POLL_INTERVAL_MS: '50',
    });
  });

  // Before the app closes: its shutdown waits for the attempts the receiver still holds.
  suite.beforeTeardown(async () => {
    await receiver?.stop();
  });

  const subscribe = async (path: string, events: EventType[]) =>
    request(a.http)
      .post(BASE)
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ url: receiver.url(path), events })
      .expect(201);
  const emit = (type: EventType, n: number) =>
    a.app.get(DataSource).transaction((m) =>
      a.app.get(EventsOutbox).emitMany(
        m,
        Array.from({ length: n }, (_, i) => ({ type, data: { keyId: `k${i}`, reason: 'user' } })),
      ),
    );

  it('the other endpoint’s delivery is sent while the slow one hangs with 20 due', async () => {
    receiver.on('/slow', () => 'hang');
    await subscribe('/slow', ['api_key.created']);
    await subscribe('/fast', ['api_key.revoked']);
    await emit('api_key.created', 20);
    await eventually(() => receiver.at('/slow').length >= 1);
    await emit('api_key.revoked', 1);
    await eventually(() => receiver.at('/fast').length === 1);
    // The slow endpoint never had more than its bound at once.
    expect(receiver.at('/slow')).toHaveLength(1);
  });

  it('the answers that carry a signing secret are not stored by any cache', async () => {
    const created = await subscribe('/secret', ['api_key.revoked']);
    expect(created.headers['cache-control']).toBe('no-store');
    const { id } = (created.body as { webhook: { id: string } }).webhook;
    const rotated = await request(a.http)
      .post(`${BASE}/${id}/rotate-secret`)
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({})
      .expect(201);
    expect(rotated.headers['cache-control']).toBe('no-store');
  });
});
