import request from 'supertest';
import { OrgTokensService } from 'src/org-tokens/org-tokens.service';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { pastAuditEvents } from 'test/helpers/factories';

const AUDIT = '/api/v1/audit-events';

interface AuditEventBody {
  id: string;
  at: string;
  actor: string;
  action: string;
  targetType: string;
  targetId: string | null;
  ip: string | null;
  requestId: string | null;
  metadata: Record<string, unknown>;
}

describe('GET /api/v1/audit-events and the OpenAPI document of the admin surface', () => {
  const suite = e2eSuite({ issuers: false });
  let t: TestApp;
  const secrets: string[] = [];
  let first: { id: string; token: string; prefix: string };

  beforeAll(async () => {
    // Bootstrap open (no ADMIN_TOKEN): the first mint goes through tier 0, then the token takes over.
    t = await suite.start({});
    const res = await request(t.http)
      .post('/api/v1/org/tokens')
      .set('x-request-id', 'audit-mint-1')
      .send({ name: 'first' })
      .expect(201);
    first = res.body as typeof first;
    secrets.push(first.token);
    const second = await request(t.http)
      .post('/api/v1/org/tokens')
      .set('authorization', `Bearer ${first.token}`)
      .send({ name: 'second' })
      .expect(201);
    secrets.push((second.body as { token: string }).token);
    await request(t.http)
      .delete(`/api/v1/org/tokens/${(second.body as { id: string }).id}`)
      .set('authorization', `Bearer ${first.token}`)
      .expect(200);
  });

  suite.beforeTeardown(async () => {
    await t?.app.get(OrgTokensService).settle();
    if (t) expect(t.logs.leaked(secrets)).toEqual([]);
  });

  const get = (query = '') =>
    request(t.http).get(`${AUDIT}${query}`).set('authorization', `Bearer ${first.token}`);

  it('lists the bootstrap use, the mints and the revocation, newest first, with no secret', async () => {
    const res = await get().expect(200);
    const events = (res.body as { events: AuditEventBody[] }).events;
    expect(events.map((e) => `${e.actor} ${e.action}`)).toEqual([
      `org-token:${first.prefix} org_token.revoke`,
      `org-token:${first.prefix} org_token.mint`,
      'bootstrap org_token.mint',
      'bootstrap admin.bootstrap_use',
    ]);
    expect(events[2]).toEqual({
      id: expect.any(String),
      at: expect.any(String),
      actor: 'bootstrap',
      action: 'org_token.mint',
      targetType: 'org_token',
      targetId: first.id,
      ip: expect.any(String),
      // The request's own id; the caller's x-request-id is kept apart.
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      callerRequestId: 'audit-mint-1',
      metadata: {
        prefix: first.prefix,
        name: 'first',
        expiresAt: null,
        scopes: ['admin'],
        mintedFor: 'bootstrap',
      },
    });
    const body = JSON.stringify(res.body);
    for (const secret of secrets) expect(body).not.toContain(secret);
  });

  it('honours limit and pages exactly with before=<event id>, or by time with before=<instant>', async () => {
    const all = ((await get().expect(200)).body as { events: AuditEventBody[] }).events;
    const page = ((await get('?limit=2').expect(200)).body as { events: AuditEventBody[] }).events;
    expect(page).toEqual(all.slice(0, 2));
    const next = (
      (await get(`?limit=500&before=${page[1]!.id}`).expect(200)).body as { events: AuditEventBody[] }
    ).events;
    expect(next).toEqual(all.slice(2));
    const unknown = await get('?before=3f0c8a4e-8a5b-4c1e-9d2f-0a1b2c3d4e5f').expect(200);
    expect(unknown.body).toEqual({ events: [] });
    const byTime = (
      (await get(`?before=${encodeURIComponent(all[0]!.at)}`).expect(200)).body as {
        events: AuditEventBody[];
      }
    ).events;
    expect(byTime.map((e) => e.id)).not.toContain(all[0]!.id);
    expect(byTime.map((e) => e.id)).toContain(all[3]!.id);
  });

  it('defaults to 100 events', async () => {
    await pastAuditEvents(t.app, 120);
    expect(((await get().expect(200)).body as { events: unknown[] }).events).toHaveLength(100);
    expect(((await get('?limit=500').expect(200)).body as { events: unknown[] }).events).toHaveLength(124);
  });

  it.each([
    ['limit over 500', '?limit=501'],
    ['limit 0', '?limit=0'],
    ['a fractional limit', '?limit=1.5'],
    ['a non-numeric limit', '?limit=ten'],
    ['a repeated limit', '?limit=1&limit=2'],
    ['an unparseable before', '?before=yesterday'],
    ['a before that is neither an id nor a date', '?before=3f0c8a4e-nope'],
    ['an unknown parameter', '?sort=asc'],
  ])('refuses %s with 400', async (_label, query) => {
    const res = await get(query).expect(400);
    expect(res.body).toMatchObject({ error: { type: 'validation_failed', status: 400 } });
  });

  it('requires admin credentials', async () => {
    const unauthorized = {
      error: { type: 'unauthorized', status: 401, message: 'Authentication required.' },
    };
    // A live token exists, so bootstrap is closed.
    await request(t.http).get(AUDIT).expect(401, unauthorized);
    await request(t.http).get(AUDIT).set('authorization', 'Bearer kso_nope').expect(401, unauthorized);
  });

  it('documents every admin route in OpenAPI, with its responses', async () => {
    const doc = (await request(t.http).get('/api/docs-json').expect(200)).body as {
      paths: Record<
        string,
        Record<string, { tags?: string[]; summary?: string; responses: Record<string, unknown> }>
      >;
    };
    const ops: [string, string, string[]][] = [
      ['/api/v1/admin/whoami', 'get', ['200', '401', '429']],
      ['/api/v1/org/tokens', 'post', ['201', '400', '401', '429']],
      ['/api/v1/org/tokens', 'get', ['200', '401', '429']],
      ['/api/v1/org/tokens/{id}', 'delete', ['200', '400', '401', '404', '429']],
      ['/api/v1/audit-events', 'get', ['200', '401', '429']],
    ];
    for (const [path, method, statuses] of ops) {
      const op = doc.paths[path]?.[method];
      expect({ path, method, documented: Boolean(op?.summary && op.tags?.length) }).toEqual({
        path,
        method,
        documented: true,
      });
      expect(Object.keys(op!.responses)).toEqual(expect.arrayContaining(statuses));
    }
  });
});
