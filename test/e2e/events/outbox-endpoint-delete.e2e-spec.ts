import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { EventsOutbox } from 'src/events/events-outbox';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { eventually } from 'test/helpers/waiting';

const ADMIN_TOKEN = 'break-glass-admin-token-for-outbox-endpoint-delete';
const ENCRYPTION_KEY = 'e2e-outbox-endpoint-delete-0123456789abcdef';

/**
 * API.md "Events": the event is written in the transaction of the change. An admin deleting a webhook endpoint
 * at the same moment must not make that change fail: the deleted endpoint just gets no delivery.
 */
describe('events: an endpoint deleted while a change emits its event', () => {
  const suite = e2eSuite();
  let a: TestApp;

  beforeAll(async () => {
    a = await suite.boot({ ADMIN_TOKEN, ENCRYPTION_KEY, RATE_LIMIT_ADMIN: '100000/60s' });
  });

  it('the change commits with its event; the deleted endpoint has no delivery', async () => {
    const created = await request(a.http)
      .post('/api/v1/admin/webhooks')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ url: 'http://127.0.0.1:9/hook', events: ['*'] })
      .expect(201);
    const { id } = (created.body as { webhook: { id: string } }).webhook;

    // The admin's delete, under way in its own transaction.
    const admin = new Client({ connectionString: suite.db.url });
    await admin.connect();
    try {
      await admin.query('BEGIN');
      await admin.query('DELETE FROM webhook_endpoints WHERE id = $1', [id]);
      // A change emits its event meanwhile (a revocation, a mint...), and meets the delete.
      const emitted = a.app
        .get(DataSource)
        .transaction((m) =>
          a.app.get(EventsOutbox).emit(m, 'api_key.revoked', { keyId: 'k1', reason: 'user' }),
        )
        .then(
          (n) => ({ ok: true as const, n }),
          (err: Error) => ({ ok: false as const, err: err.message }),
        );
      await eventually(async () => {
        const [row] = await suite.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
            WHERE NOT l.granted AND s.datname = current_database()`,
        );
        return row!.n > 0;
      });
      await admin.query('COMMIT');
      expect(await emitted).toEqual({ ok: true, n: 1 });
    } finally {
      await admin.end();
    }
    const rows = await suite.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events WHERE type = 'api_key.revoked' AND data->>'keyId' = 'k1'`,
    );
    expect(rows).toEqual([{ n: 1 }]);
  });
});
