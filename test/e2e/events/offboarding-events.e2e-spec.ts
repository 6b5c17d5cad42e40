import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { apiKey } from 'test/helpers/factories';

const ADMIN_TOKEN = 'break-glass-admin-token-for-offboarding-events';

/**
 * API.md "Events": an event describes a change. Disabling a user who is disabled already changes nothing (an
 * empty report), so it announces nothing either: receivers' incident tooling is not run twice.
 */
describe('events: the kill switch announces a user once', () => {
  const suite = e2eSuite();
  let a: TestApp;

  beforeAll(async () => {
    a = await suite.boot({ ADMIN_TOKEN, RATE_LIMIT_ADMIN: '100000/60s' });
  });

  it('disabling twice: one user.disabled; enabling and disabling again: a second one', async () => {
    await apiKey(a.app, 'twice-offboarded');
    const [user] = await suite.db.query<{ id: string }>(
      `SELECT id FROM users WHERE external_id = 'twice-offboarded'`,
    );
    const call = (action: 'disable' | 'enable') =>
      request(a.http)
        .post(`/api/v1/admin/users/${user!.id}/${action}`)
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({ reason: 'left the company' })
        .expect(200);
    const announced = async (): Promise<string[]> =>
      (
        await suite.db.query<{ type: string }>(
          `SELECT type FROM events WHERE type LIKE 'user.%' AND data->>'userId' = $1 ORDER BY occurred_at, id`,
          [user!.id],
        )
      ).map((e) => e.type);

    await call('disable');
    await call('disable');
    expect(await announced()).toEqual(['user.disabled']);
    await call('enable');
    await call('disable');
    expect(await announced()).toEqual(['user.disabled', 'user.enabled', 'user.disabled']);
  });
});
