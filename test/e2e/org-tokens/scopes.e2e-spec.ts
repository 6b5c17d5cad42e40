import request from 'supertest';
import { ADMIN_SCOPES, type AdminScope } from 'src/auth/admin/admin-scopes';
import { OrgTokensService } from 'src/org-tokens/org-tokens.service';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { orgTokens, deleteOrgTokens } from 'test/helpers/factories';
import { UNAUTHORIZED } from 'test/helpers/http';

const ADMIN_TOKEN = 'break-glass-admin-token-for-org-token-scopes';
const ORG = 'org-scopes';
const UUID = '3f0c8a4e-8a5b-4c1e-9d2f-0a1b2c3d4e5f';

interface Minted {
  id: string;
  prefix: string;
  scopes: AdminScope[];
  createdBy: string;
  token: string;
}

const forbidden = (message: RegExp) => ({
  error: { type: 'forbidden', status: 403, message: expect.stringMatching(message) as unknown },
});

/**
 * Org-token scopes (API.md, "Key lifecycle", org tokens; decision 0070): what a token of each scope may call,
 * that no credential mints a token with scopes it does not hold, and the 400s of a bad list.
 */
describe('org tokens: scopes', () => {
  const suite = e2eSuite();
  let t: TestApp;
  const secrets: string[] = [ADMIN_TOKEN];

  const as = (credential: string) => ({
    get: (url: string) => request(t.http).get(url).set('authorization', `Bearer ${credential}`),
    post: (url: string, body?: unknown) => {
      const req = request(t.http).post(url).set('authorization', `Bearer ${credential}`);
      return body === undefined ? req : req.send(body as object);
    },
    delete: (url: string) => request(t.http).delete(url).set('authorization', `Bearer ${credential}`),
  });

  async function mint(scopes?: AdminScope[], credential = ADMIN_TOKEN): Promise<Minted> {
    const res = await as(credential)
      .post('/api/v1/org/tokens', scopes === undefined ? {} : { scopes })
      .expect(201);
    const minted = res.body as Minted;
    secrets.push(minted.token);
    return minted;
  }

  const liveIds = async (): Promise<string[]> =>
    (
      (await as(ADMIN_TOKEN).get('/api/v1/org/tokens').expect(200)).body as { tokens: { id: string }[] }
    ).tokens.map((x) => x.id);

  beforeAll(async () => {
    t = await suite.boot({
      ADMIN_TOKEN,
      ORG_ID: ORG,
      RATE_LIMIT_ORG_TOKEN_MINT: '10000/1h',
      RATE_LIMIT_ADMIN: '100000/60s',
    });
  });

  suite.beforeTeardown(async () => {
    await t?.app.get(OrgTokensService).settle();
    if (t) expect(t.logs.leaked(secrets)).toEqual([]);
  });

  describe('minting with scopes', () => {
    it('gives `admin` when no scopes are asked for, and whoami says so', async () => {
      const minted = await mint();
      expect(minted.scopes).toEqual(['admin']);
      await as(minted.token)
        .get('/api/v1/admin/whoami')
        .expect(200, { tier: 'org_token', actor: `org-token:${minted.prefix}`, scopes: ['admin'] });
    });

    it('stores the scopes in catalog order, whatever order they were asked in; list and whoami show them', async () => {
      const minted = await mint(['audit:read', 'org-tokens:write', 'admin:read']);
      expect(minted.scopes).toEqual(['admin:read', 'org-tokens:write', 'audit:read']);
      const listed = (
        (await as(ADMIN_TOKEN).get('/api/v1/org/tokens').expect(200)).body as { tokens: Minted[] }
      ).tokens.find((x) => x.id === minted.id);
      expect(listed?.scopes).toEqual(['admin:read', 'org-tokens:write', 'audit:read']);
      // Twice: the second answer comes from the verification cache, with the same scopes.
      for (let i = 0; i < 2; i++) {
        const res = await as(minted.token).get('/api/v1/admin/whoami').expect(200);
        expect((res.body as { scopes: string[] }).scopes).toEqual([
          'admin:read',
          'org-tokens:write',
          'audit:read',
        ]);
      }
    });

    it('mints each scope of the catalog alone', async () => {
      for (const scope of ADMIN_SCOPES) expect((await mint([scope])).scopes).toEqual([scope]);
    });

    it('records the scopes in the audit row', async () => {
      const minted = await mint(['admin:read']);
      const rows = await suite.db.query<{ metadata: { scopes: string[] } }>(
        `SELECT metadata FROM audit_events WHERE action = 'org_token.mint' AND target_id = $1`,
        [minted.id],
      );
      expect(rows.map((r) => r.metadata.scopes)).toEqual([['admin:read']]);
    });

    it.each([
      ['an empty list', []],
      ['an unknown scope', ['root']],
      ['an API-key scope', ['billing:read']],
      ['a scope in upper case', ['ADMIN']],
      ['a duplicate', ['admin:read', 'admin:read']],
      ['a string instead of a list', 'admin'],
      ['null', null],
      ['a number in the list', [1]],
      ['an empty string in the list', ['']],
      ['a nested list', [['admin']]],
      ['more scopes than the catalog holds', [...ADMIN_SCOPES, 'admin']],
    ])('refuses %s with 400 validation_failed naming `scopes`', async (_label, scopes) => {
      const before = await liveIds();
      const res = await as(ADMIN_TOKEN).post('/api/v1/org/tokens', { scopes }).expect(400);
      expect(res.body).toMatchObject({
        error: {
          type: 'validation_failed',
          status: 400,
          details: [expect.objectContaining({ field: 'scopes' })],
        },
      });
      expect(await liveIds()).toEqual(before);
    });
  });

  describe('a token with `admin:read`', () => {
    let reader: Minted;
    let target: Minted;

    beforeAll(async () => {
      reader = await mint(['admin:read']);
      target = await mint(['org-tokens:write']);
    });

    it('reads every GET of the admin surface: the token list, the audit trail, whoami', async () => {
      const list = await as(reader.token).get('/api/v1/org/tokens').expect(200);
      expect((list.body as { tokens: { id: string }[] }).tokens.map((x) => x.id)).toContain(target.id);
      await as(reader.token).get('/api/v1/audit-events?limit=5').expect(200);
      await as(reader.token)
        .get('/api/v1/admin/whoami')
        .expect(200, { tier: 'org_token', actor: `org-token:${reader.prefix}`, scopes: ['admin:read'] });
    });

    it('cannot mint (with or without `admin`), revoke or roll: 403 forbidden, and nothing changes', async () => {
      const before = await liveIds();
      for (const res of [
        await as(reader.token).post('/api/v1/org/tokens', {}),
        await as(reader.token).post('/api/v1/org/tokens', { scopes: ['admin'] }),
        await as(reader.token).post('/api/v1/org/tokens', { scopes: ['admin:read'] }),
        await as(reader.token).delete(`/api/v1/org/tokens/${target.id}`),
        await as(reader.token).delete(`/api/v1/org/tokens/${reader.id}`),
        await as(reader.token).post(`/api/v1/org/tokens/${target.id}/roll`, { graceSeconds: 0 }),
      ]) {
        expect({ status: res.status, body: res.body as unknown }).toEqual({
          status: 403,
          body: forbidden(/org-tokens:write/),
        });
        expect(res.headers['cache-control']).toBe('no-store');
      }
      expect(await liveIds()).toEqual(before);
      await as(target.token).get('/api/v1/admin/whoami').expect(200);
      const rows = await suite.db.query(`SELECT 1 FROM org_tokens WHERE created_by = $1`, [
        `org-token:${reader.prefix}`,
      ]);
      expect(rows).toEqual([]);
    });

    it('is refused before validation of the body: a bad body is a 403, not a 400 that would probe it', async () => {
      await as(reader.token)
        .post('/api/v1/org/tokens', { scopes: ['root'] })
        .expect(403);
    });
  });

  describe('a token with `org-tokens:write`', () => {
    let writer: Minted;

    beforeAll(async () => {
      writer = await mint(['org-tokens:write']);
    });

    it('mints a token with its own scope, created by org-token:<prefix>', async () => {
      const child = await mint(['org-tokens:write'], writer.token);
      expect(child).toMatchObject({ scopes: ['org-tokens:write'], createdBy: `org-token:${writer.prefix}` });
    });

    it.each([
      ['no scopes (the default is `admin`)', undefined, /admin\.$/],
      ['`admin`', ['admin'], /: admin\.$/],
      ['`audit:read`', ['audit:read'], /: audit:read\.$/],
      ['its own scope and `admin:read`', ['org-tokens:write', 'admin:read'], /: admin:read\.$/],
      [
        '`users:admin` and `webhooks:admin`',
        ['users:admin', 'webhooks:admin'],
        /: users:admin, webhooks:admin\.$/,
      ],
    ])('cannot mint a token with %s: 403 naming what it lacks', async (_label, scopes, message) => {
      const before = await liveIds();
      const res = await as(writer.token)
        .post('/api/v1/org/tokens', scopes === undefined ? {} : { scopes })
        .expect(403);
      expect(res.body).toEqual(forbidden(message));
      expect(await liveIds()).toEqual(before);
    });

    it('cannot read the token list or the audit trail (they need `admin:read` or `audit:read`)', async () => {
      const list = await as(writer.token).get('/api/v1/org/tokens').expect(403);
      expect(list.body).toEqual(forbidden(/admin:read/));
      const audit = await as(writer.token).get('/api/v1/audit-events').expect(403);
      expect(audit.body).toEqual(forbidden(/audit:read/));
    });

    it('revokes any token, whatever its scopes (taking rights away escalates nothing)', async () => {
      const admin = await mint(['admin']);
      await as(writer.token).delete(`/api/v1/org/tokens/${admin.id}`).expect(200);
      await as(admin.token).get('/api/v1/admin/whoami').expect(401, UNAUTHORIZED);
    });

    it('calls whoami, open to every admin credential', async () => {
      await as(writer.token)
        .get('/api/v1/admin/whoami')
        .expect(200, {
          tier: 'org_token',
          actor: `org-token:${writer.prefix}`,
          scopes: ['org-tokens:write'],
        });
    });
  });

  it('`admin:read` with `org-tokens:write` mints `admin:read`, but not `audit:read` (scopes compare by name)', async () => {
    const both = await mint(['admin:read', 'org-tokens:write']);
    expect((await mint(['admin:read'], both.token)).scopes).toEqual(['admin:read']);
    const res = await as(both.token)
      .post('/api/v1/org/tokens', { scopes: ['audit:read'] })
      .expect(403);
    expect(res.body).toEqual(forbidden(/: audit:read\.$/));
  });

  it('`audit:read` reads the audit trail and nothing else of the admin surface', async () => {
    const auditor = await mint(['audit:read']);
    await as(auditor.token).get('/api/v1/audit-events').expect(200);
    await as(auditor.token).get('/api/v1/org/tokens').expect(403);
    await as(auditor.token)
      .post('/api/v1/org/tokens', { scopes: ['audit:read'] })
      .expect(403);
    await as(auditor.token).get('/api/v1/admin/whoami').expect(200);
  });

  it('scopes that open nothing here yet (`users:admin`, `webhooks:admin`, `api-keys:admin`) open no existing route', async () => {
    for (const scope of ['users:admin', 'webhooks:admin', 'api-keys:admin'] as const) {
      const token = (await mint([scope])).token;
      await as(token).get('/api/v1/org/tokens').expect(403);
      await as(token).get('/api/v1/audit-events').expect(403);
      await as(token)
        .post('/api/v1/org/tokens', { scopes: [scope] })
        .expect(403);
      await as(token).delete(`/api/v1/org/tokens/${UUID}`).expect(403);
      await as(token).get('/api/v1/admin/whoami').expect(200);
    }
  });

  it('sessions of org admins and ADMIN_TOKEN hold `admin`: they mint any scope, `admin` included', async () => {
    const session = await suite.session.token({ sub: 'scopes-admin', org_id: ORG });
    await as(session)
      .get('/api/v1/admin/whoami')
      .expect(200, { tier: 'session', actor: 'session:scopes-admin', scopes: ['admin'] });
    expect((await mint(['admin', 'audit:read'], session)).scopes).toEqual(['admin', 'audit:read']);
    await as(ADMIN_TOKEN)
      .get('/api/v1/admin/whoami')
      .expect(200, { tier: 'admin_token', actor: 'admin-token', scopes: ['admin'] });
  });

  it('a token written without scopes (as before scopes existed) holds `admin`', async () => {
    const [token] = await orgTokens(t.app, 1, { createdBy: 'scopes-legacy', name: 'legacy' });
    secrets.push(token!);
    await as(token!).get('/api/v1/admin/whoami').expect(200);
    const res = await as(token!).get('/api/v1/admin/whoami').expect(200);
    expect((res.body as { scopes: string[] }).scopes).toEqual(['admin']);
    await deleteOrgTokens(t.app, 'scopes-legacy');
  });

  it('a wrong credential is still the one 401 on a scoped route, never a 403', async () => {
    await as('not-a-credential').get('/api/v1/org/tokens').expect(401, UNAUTHORIZED);
    await as('not-a-credential')
      .post('/api/v1/org/tokens', { scopes: ['admin'] })
      .expect(401, UNAUTHORIZED);
  });
});
