import request from 'supertest';
import { UsersService } from 'src/users/users.service';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { projects as createProjects } from 'test/helpers/factories';
import { sessionBearer, sessionEnv, TestIssuer } from 'test/helpers/issuers';
import { concurrently } from 'test/helpers/waiting';
import { errorShape } from 'test/helpers/http';

interface ProjectView {
  id: string;
  name: string;
  isDefault: boolean;
  createdAt: string;
  apiKeyCount: number;
}

describe('developer surface: projects and users', () => {
  const suite = e2eSuite({ issuers: false });
  let issuer: TestIssuer;
  let t: TestApp;

  beforeAll(async () => {
    issuer = await TestIssuer.start('keysmith-projects');
    t = await suite.start(sessionEnv(issuer));
  });

  afterAll(async () => {
    await issuer?.stop();
  });

  const token = (sub: string): Promise<string> => sessionBearer(issuer, sub);
  const list = async (sub: string): Promise<ProjectView[]> => {
    const res = await request(t.http)
      .get('/api/v1/developer/projects')
      .set('authorization', await token(sub))
      .expect(200);
    return (res.body as { projects: ProjectView[] }).projects;
  };
  const create = async (sub: string, body: unknown) =>
    request(t.http)
      .post('/api/v1/developer/projects')
      .set('authorization', await token(sub))
      .send(body as object);

  it('creates the user on first sight and lists no projects yet', async () => {
    expect(await list('fresh-user')).toEqual([]);
    const users = await suite.db.query('SELECT 1 FROM users WHERE external_id = $1', ['fresh-user']);
    expect(users).toHaveLength(1);
  });

  it('concurrent first requests of one user make one user row', async () => {
    const auth = await token('first-sight-racer');
    const statuses = await concurrently(10, () =>
      request(t.http)
        .get('/api/v1/developer/projects')
        .set('authorization', auth)
        .then((r) => r.status),
    );
    expect(statuses).toEqual(Array.from({ length: 10 }, () => 200));
    const users = await suite.db.query('SELECT 1 FROM users WHERE external_id = $1', ['first-sight-racer']);
    expect(users).toHaveLength(1);
  });

  it('UsersService: concurrent find-or-create with profiles makes one row; given fields win, absent ones stay', async () => {
    const users = t.app.get(UsersService);
    const results = await concurrently(8, (i) =>
      users.findOrCreateByExternalId('provisioned-x', {
        email: 'x@example.com',
        ...(i === 0 ? { name: 'X' } : {}),
      }),
    );
    expect(new Set(results.map((u) => u.id)).size).toBe(1);
    const updated = await users.findOrCreateByExternalId('provisioned-x', { email: 'new@example.com' });
    expect(updated).toMatchObject({ id: results[0]!.id, email: 'new@example.com', name: 'X' });
    const plain = await users.findOrCreateByExternalId('provisioned-x');
    expect(plain).toMatchObject({ email: 'new@example.com', name: 'X' });
    const cleared = await users.findOrCreateByExternalId('provisioned-x', { name: null });
    expect(cleared).toMatchObject({ email: 'new@example.com', name: null });
  });

  it('creates a project (name trimmed) and answers 201 with its view', async () => {
    const res = await create('creator', { name: '  Storefront ' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      name: 'Storefront',
      isDefault: false,
      createdAt: expect.any(String),
      apiKeyCount: 0,
    });
    expect(await list('creator')).toEqual([res.body]);
  });

  it('answers 409 for a name the user already has, and lets another user take it', async () => {
    await create('dup-user', { name: 'Alpha' }).then((r) => expect(r.status).toBe(201));
    const again = await create('dup-user', { name: 'Alpha' });
    expect(again.status).toBe(409);
    expect(again.body).toEqual(errorShape('conflict', 409));
    expect((await create('dup-user', { name: ' Alpha ' })).status).toBe(409);
    // Names are case-sensitive.
    expect((await create('dup-user', { name: 'alpha' })).status).toBe(201);
    expect((await create('other-user', { name: 'Alpha' })).status).toBe(201);
  });

  it('concurrent creations of one name make one project and 409s', async () => {
    const auth = await token('name-racer');
    const statuses = await concurrently(8, () =>
      request(t.http)
        .post('/api/v1/developer/projects')
        .set('authorization', auth)
        .send({ name: 'Contested' })
        .then((r) => r.status),
    );
    expect(statuses.sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    expect(await list('name-racer')).toHaveLength(1);
  });

  it("never shows one user's projects to another", async () => {
    await create('iso-a', { name: 'Mine' });
    expect(await list('iso-b')).toEqual([]);
  });

  it('promotes a project named "Default" when the default project is first needed', async () => {
    const made = await create('named-default', { name: 'Default' });
    expect(made.status).toBe(201);
    const auth = await token('named-default');
    const responses = await concurrently(5, () =>
      request(t.http).post('/api/v1/developer/keys').set('authorization', auth).send({}),
    );
    const secrets = responses.map((r) => (r.body as { secret: string }).secret);
    for (const r of responses) expect(r.status).toBe(201);
    const projects = await list('named-default');
    expect(projects).toEqual([
      expect.objectContaining({ id: (made.body as ProjectView).id, isDefault: true, apiKeyCount: 5 }),
    ]);
    expect(t.logs.leaked(secrets)).toEqual([]);
  });

  it('lists the default project first, then oldest first, with live key counts', async () => {
    const sub = 'counter';
    const auth = await token(sub);
    await create(sub, { name: 'Zeta' });
    await create(sub, { name: 'Beta' });
    const secrets: string[] = [];
    const mint = async (body: object) => {
      const res = await request(t.http)
        .post('/api/v1/developer/keys')
        .set('authorization', auth)
        .send(body)
        .expect(201);
      secrets.push((res.body as { secret: string }).secret);
      return (res.body as { key: { id: string } }).key.id;
    };
    await mint({ projectName: 'Beta' });
    const revoked = await mint({ projectName: 'Beta' });
    await mint({});
    await request(t.http).delete(`/api/v1/developer/keys/${revoked}`).set('authorization', auth).expect(200);
    expect((await list(sub)).map((p) => [p.name, p.isDefault, p.apiKeyCount])).toEqual([
      ['Default', true, 1],
      ['Zeta', false, 0],
      ['Beta', false, 1],
    ]);
    expect(t.logs.leaked(secrets)).toEqual([]);
  });

  it.each([
    ['a missing name', {}],
    ['an empty name', { name: '' }],
    ['a blank name', { name: '   ' }],
    ['an over-long name', { name: 'n'.repeat(101) }],
    ['a non-string name', { name: 7 }],
    ['an unknown field', { name: 'ok', extra: true }],
    ['a smuggled userId', { name: 'ok', userId: '00000000-0000-4000-8000-000000000000' }],
    ['a smuggled isDefault', { name: 'ok', isDefault: true }],
    ['a null name', { name: null }],
    ['a NUL in the name', { name: 'Store\u0000front' }],
    ['a control character in the name', { name: 'Store\u0008front' }],
    ['a line break inside the name', { name: 'Store\r\nfront' }],
  ])('rejects %s with 400', async (_name, body) => {
    const res = await create('validator', body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(errorShape('validation_failed', 400));
    expect(await list('validator')).toEqual([]);
  });

  it('accepts a name of exactly 100 characters', async () => {
    expect((await create('long-namer', { name: 'n'.repeat(100) })).status).toBe(201);
  });

  it('rejects a body over 64 KiB with 413', async () => {
    const res = await create('validator', { name: 'x'.repeat(70_000) });
    expect(res.status).toBe(413);
  });

  it('limits developer writes per user: the 61st in a minute is 429 with Retry-After, shared by key writes', async () => {
    const auth = await token('busy-writer');
    // Invalid bodies count too: the limit is checked before the body is validated.
    for (let i = 0; i < 60; i++) {
      const res = await request(t.http)
        .post('/api/v1/developer/projects')
        .set('authorization', auth)
        .send({});
      expect(res.status).toBe(400);
    }
    const limited = await request(t.http)
      .post('/api/v1/developer/projects')
      .set('authorization', auth)
      .send({ name: 'one too many' });
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual(errorShape('rate_limited', 429));
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // One bucket for every developer write of this user; reads are not limited by it.
    await request(t.http).post('/api/v1/developer/keys').set('authorization', auth).send({}).expect(429);
    await request(t.http)
      .delete('/api/v1/developer/keys/00000000-0000-4000-8000-000000000000')
      .set('authorization', auth)
      .expect(429);
    await request(t.http).get('/api/v1/developer/projects').set('authorization', auth).expect(200);
    // Counted per user, not per IP: another user from the same address writes on.
    expect((await create('calm-writer', { name: 'Fine' })).status).toBe(201);
    expect(await suite.db.query(`SELECT 1 FROM projects WHERE name = 'one too many'`)).toEqual([]);
  });

  it('lists at most 500 projects', async () => {
    await createProjects(
      t.app,
      'hoarder',
      Array.from({ length: 501 }, (_, i) => `p${i + 1}`),
    );
    const projects = await list('hoarder');
    expect(projects).toHaveLength(500);
  });

  it('answers 401 without or with a bad session', async () => {
    await request(t.http).get('/api/v1/developer/projects').expect(401);
    await request(t.http).post('/api/v1/developer/projects').send({ name: 'x' }).expect(401);
    await request(t.http)
      .get('/api/v1/developer/projects')
      .set('authorization', `Bearer ${await issuer.token({ sub: 'x' }, { expiresIn: -10 })}`)
      .expect(401);
  });
});
