import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { pastAuditEvents } from 'test/helpers/factories';
import { FULL_ADMIN_TOKEN, fullEnv } from 'test/helpers/full-app';
import { errorShape } from 'test/helpers/http';

const AUDIT = '/api/v1/audit-events';
const ADMIN = `Bearer ${FULL_ADMIN_TOKEN}`;

interface Event {
  id: string;
  at: string;
  actor: string;
  action: string;
  targetId: string | null;
}

/** Issue 20: the audit log's filters (actor, action, targetId, after) and the streamed NDJSON export. */
describe('GET /api/v1/audit-events: filters and format=ndjson', () => {
  const suite = e2eSuite();
  let t: TestApp;

  beforeAll(async () => {
    t = await suite.boot(fullEnv(suite.m2m, suite.session));
    await pastAuditEvents(t.app, 2500, 'filler-a');
    await pastAuditEvents(t.app, 700, 'filler-b');
    // Two targets to filter on.
    await suite.db.query(
      `UPDATE audit_events SET target_id = 'target-1', action = 'test.special'
        WHERE id IN (SELECT id FROM audit_events WHERE actor = 'filler-b' ORDER BY at DESC LIMIT 3)`,
    );
  });

  afterAll(() => {
    expect(t.logs.leaked([FULL_ADMIN_TOKEN])).toEqual([]);
  });

  const get = (query: Record<string, string | number>): request.Test =>
    request(t.http).get(AUDIT).query(query).set('authorization', ADMIN);
  const all = async (where: string, params: unknown[] = []): Promise<string[]> =>
    (
      await suite.db.query<{ id: string }>(
        `SELECT id FROM audit_events WHERE ${where} ORDER BY at DESC, id DESC`,
        params,
      )
    ).map((r) => r.id);
  const lines = (text: string): Event[] =>
    text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Event);

  it.each([
    ['actor', { actor: 'filler-b' }, `actor = 'filler-b'`],
    ['action', { action: 'test.special' }, `action = 'test.special'`],
    ['targetId', { targetId: 'target-1' }, `target_id = 'target-1'`],
    ['actor and action', { actor: 'filler-a', action: 'test.special' }, 'false'],
    ['an unknown actor', { actor: 'nobody' }, 'false'],
  ])('filters JSON pages by %s', async (_label, query, where) => {
    const res = await get({ ...query, limit: 500 }).expect(200);
    expect((res.body as { events: Event[] }).events.map((e) => e.id)).toEqual(
      (await all(where)).slice(0, 500),
    );
  });

  it('after=<event id> and after=<instant> keep only newer events, oldest first; with before, a window', async () => {
    const ids = await all(`actor = 'filler-a'`);
    const pivot = ids[100]!;
    const newer = await get({ actor: 'filler-a', after: pivot, limit: 500 }).expect(200);
    expect((newer.body as { events: Event[] }).events.map((e) => e.id)).toEqual(ids.slice(0, 100).reverse());
    const [row] = await suite.db.query<{ at: Date }>('SELECT at FROM audit_events WHERE id = $1', [pivot]);
    const byTime = await get({ actor: 'filler-a', after: row!.at.toISOString(), limit: 500 }).expect(200);
    expect((byTime.body as { events: Event[] }).events.map((e) => e.id)).toEqual(ids.slice(0, 100).reverse());
    const windowed = await get({ actor: 'filler-a', after: ids[10]!, before: ids[4]!, limit: 500 }).expect(
      200,
    );
    expect((windowed.body as { events: Event[] }).events.map((e) => e.id)).toEqual(
      ids.slice(5, 10).reverse(),
    );
  });

  it('an incremental export (after=<last id>, a limit) walks forward: every event once, in order', async () => {
    await pastAuditEvents(t.app, 30, 'siem-source');
    const oldestFirst = (await all(`actor = 'siem-source'`)).reverse();
    expect(oldestFirst).toHaveLength(30);
    const [first] = await suite.db.query<{ at: Date }>(
      `SELECT min(at) AS at FROM audit_events WHERE actor = 'siem-source'`,
    );
    let after = new Date(first!.at.getTime() - 1000).toISOString();
    const received: string[] = [];
    for (let poll = 0; poll < 3; poll++) {
      const res = await get({ format: 'ndjson', actor: 'siem-source', after, limit: 10 }).expect(200);
      const batch = lines(res.text).map((e) => e.id);
      expect(batch).toHaveLength(10);
      received.push(...batch);
      after = batch.at(-1)!;
    }
    expect(received).toEqual(oldestFirst);
    // Caught up: the next poll is empty, in NDJSON and as a JSON page.
    expect(lines((await get({ format: 'ndjson', actor: 'siem-source', after }).expect(200)).text)).toEqual(
      [],
    );
    expect(
      ((await get({ actor: 'siem-source', after }).expect(200)).body as { events: Event[] }).events,
    ).toEqual([]);
  });

  it('an incremental export across batches (after, more than 1000 events) stays oldest first', async () => {
    const ids = (await all(`actor = 'filler-a'`)).reverse();
    const res = await get({ format: 'ndjson', actor: 'filler-a', after: ids[0]!, limit: 1500 }).expect(200);
    expect(lines(res.text).map((e) => e.id)).toEqual(ids.slice(1, 1501));
  });

  it('keeps the JSON limit at 500', async () => {
    await get({ limit: 500 }).expect(200);
    const res = await get({ limit: 501 });
    expect({ status: res.status, body: res.body as unknown }).toEqual({
      status: 400,
      body: errorShape('validation_failed', 400),
    });
    await get({ limit: 501, format: 'json' }).expect(400);
  });

  it('streams every matching event as NDJSON, newest first, across its batches', async () => {
    const res = await get({ format: 'ndjson', actor: 'filler-a' }).expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const events = lines(res.text);
    expect(events.map((e) => e.id)).toEqual(await all(`actor = 'filler-a'`));
    expect(events[0]).toEqual(
      expect.objectContaining({
        actor: 'filler-a',
        action: 'test.filler',
        at: expect.any(String) as unknown,
      }),
    );
  });

  it('stops at `limit` (across a batch boundary) and honours every filter', async () => {
    const limited = lines((await get({ format: 'ndjson', limit: 1001 }).expect(200)).text);
    expect(limited.map((e) => e.id)).toEqual((await all('true')).slice(0, 1001));
    const special = lines((await get({ format: 'ndjson', targetId: 'target-1' }).expect(200)).text);
    expect(special.map((e) => e.id)).toEqual(await all(`target_id = 'target-1'`));
    const none = await get({ format: 'ndjson', actor: 'nobody' }).expect(200);
    expect(none.text).toBe('');
  });

  it.each([
    ['limit 100001', { format: 'ndjson', limit: 100001 }],
    ['limit 0', { format: 'ndjson', limit: 0 }],
    ['an unknown format', { format: 'csv' }],
    ['after not a date or id', { after: 'yesterday' }],
    ['an actor over 300 characters', { actor: 'a'.repeat(301) }],
    ['an action with a control character', { action: 'a\u0007b' }],
  ])('%s: 400', async (_label, query) => {
    const res = await get(query);
    expect({ status: res.status, body: res.body as unknown }).toEqual({
      status: 400,
      body: errorShape('validation_failed', 400),
    });
  });

  it('requires an admin credential for the export too', async () => {
    await request(t.http).get(AUDIT).query({ format: 'ndjson' }).expect(401);
  });
});
