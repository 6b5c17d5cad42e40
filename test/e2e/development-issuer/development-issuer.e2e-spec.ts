import { decode } from 'jsonwebtoken';
import request from 'supertest';
import {
  DEVELOPMENT_ISSUER,
  DEVELOPMENT_M2M_AUDIENCE,
  DEVELOPMENT_SESSION_AUDIENCE,
} from 'src/auth/development-issuer/development-issuer';
import { DEVELOPMENT_ISSUER_WARNING } from 'src/auth/development-issuer/development-issuer.service';
import { runDevTokenCommand } from 'src/auth/development-issuer/dev-token-command';
import type { Env } from 'src/config/env-reader';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import type { TestDatabase } from 'test/helpers/database';
import { internalEnv, m2mToken, TestIssuer } from 'test/helpers/issuers';

/** What `npm run dev:token -- <args>` prints for `db`: its stdout, stderr and exit code. */
async function devToken(db: TestDatabase, args: string[], env: Env = {}) {
  let out = '';
  let err = '';
  const code = await runDevTokenCommand(
    args,
    { NODE_ENV: 'test', ...env, DATABASE_URL: db.url },
    {
      out: (text) => (out += text),
      err: (text) => (err += text),
    },
  );
  return { out, err, code, token: out.trim() };
}

const bearer = (token: string): string => `Bearer ${token}`;

function mint(t: TestApp, token: string) {
  return request(t.http)
    .post('/api/v1/developer/keys')
    .set('authorization', bearer(token))
    .send({ label: 'dev' });
}

function resolve(t: TestApp, token: string, key: string) {
  return request(t.http)
    .post('/api/v1/internal/api-keys/resolve')
    .set('authorization', bearer(token))
    .send({ key });
}

describe('the development issuer (no identity provider configured, NODE_ENV other than production)', () => {
  const suite = e2eSuite({ issuers: false });
  let t: TestApp;

  beforeAll(async () => {
    t = await suite.start({});
  });

  it('says so in a warning at start', () => {
    expect(t.logs.text()).toContain(DEVELOPMENT_ISSUER_WARNING);
  });

  it('mints a key with a dev:token session, resolves it with a dev:token M2M token, and a revoked key is a 401', async () => {
    const session = await devToken(suite.db, ['session', 'alice']);
    const m2m = await devToken(suite.db, ['m2m', 'apikeys:resolve']);
    expect([session.code, m2m.code, session.err, m2m.err]).toEqual([0, 0, '', '']);
    // One line, nothing else.
    expect(session.out).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);

    const minted = await mint(t, session.token).expect(201);
    const secret = minted.body.secret as string;
    const resolved = await resolve(t, m2m.token, secret).expect(200);
    expect(resolved.body).toMatchObject({ keyId: expect.any(String), token: expect.any(String) });

    await request(t.http)
      .delete(`/api/v1/developer/keys/${minted.body.key.id}`)
      .set('authorization', bearer(session.token))
      .expect(200);
    const refused = await resolve(t, m2m.token, secret).expect(401);
    expect(refused.body.error.type).toBe('invalid_api_key');
  });

  it('names itself in iss and aud, with an audience per tier, valid for an hour', async () => {
    const session = decode((await devToken(suite.db, ['session', 'bob', '--org', 'org-1'])).token) as Record<
      string,
      unknown
    >;
    const m2m = decode(
      (await devToken(suite.db, ['m2m', 'apikeys:resolve provision:apikey', '--client', 'gw'])).token,
    ) as Record<string, unknown>;
    expect(session).toMatchObject({
      iss: DEVELOPMENT_ISSUER,
      aud: DEVELOPMENT_SESSION_AUDIENCE,
      sub: 'bob',
      org_id: 'org-1',
    });
    expect(m2m).toMatchObject({
      iss: DEVELOPMENT_ISSUER,
      aud: DEVELOPMENT_M2M_AUDIENCE,
      client_id: 'gw',
      gty: 'client-credentials',
      scope: 'apikeys:resolve provision:apikey',
    });
    expect((session.exp as number) - (session.iat as number)).toBe(3600);
  });

  it('keeps one tier’s tokens out of the other, and a route’s scope still counts', async () => {
    const session = (await devToken(suite.db, ['session', 'carol'])).token;
    const m2m = (await devToken(suite.db, ['m2m', 'credentials:use'])).token;
    await request(t.http).get('/api/v1/developer/keys').set('authorization', bearer(m2m)).expect(401);
    await resolve(t, session, 'ks_whatever').expect(401);
    await resolve(t, m2m, 'ks_whatever').expect(403);
  });

  it('keeps one key for every instance and command on the database, however many start together', async () => {
    // An empty database: two instances and two dev:token runs race to create the key.
    const fresh = await suite.database();
    const apps: TestApp[] = [];
    try {
      const [a, b, first, second] = await Promise.all([
        devToken(fresh, ['session', 'dave']),
        devToken(fresh, ['session', 'erin']),
        suite.start({}, { db: fresh }).then((app) => (apps.push(app), app)),
        suite.start({}, { db: fresh }).then((app) => (apps.push(app), app)),
      ]);
      expect(await fresh.query('SELECT kid FROM development_issuer_keys')).toHaveLength(1);
      for (const app of [first, second]) {
        for (const token of [a.token, b.token]) {
          await request(app.http)
            .get('/api/v1/developer/keys')
            .set('authorization', bearer(token))
            .expect(200);
        }
      }
    } finally {
      for (const app of apps) await app.close();
    }
  });

  it('its sessions are org admins as any issuer’s are: with ORG_ID set, those of that org only', async () => {
    const admins = await suite.start({ ORG_ID: 'org-1', ADMIN_BOOTSTRAP_OPEN: 'false' });
    try {
      const member = (await devToken(suite.db, ['session', 'gina', '--org', 'org-1'])).token;
      const outsider = (await devToken(suite.db, ['session', 'hal'])).token;
      await request(admins.http)
        .get('/api/v1/admin/whoami')
        .set('authorization', bearer(member))
        .expect(200, { tier: 'session', actor: 'session:gina', scopes: ['admin'] });
      await request(admins.http)
        .get('/api/v1/admin/whoami')
        .set('authorization', bearer(outsider))
        .expect(401);
    } finally {
      await admins.close();
    }
  });

  it('is off, and its tokens refused, with AUTH_DEVELOPMENT_ISSUER=false', async () => {
    const session = (await devToken(suite.db, ['session', 'frank'])).token;
    const off = await suite.start({ AUTH_DEVELOPMENT_ISSUER: 'false' });
    try {
      await request(off.http).get('/api/v1/developer/keys').set('authorization', bearer(session)).expect(401);
    } finally {
      await off.close();
    }
  });
});

describe('an instance with a real issuer configured', () => {
  const suite = e2eSuite({ issuers: false });
  let m2mIssuer: TestIssuer;
  let sessionIssuer: TestIssuer;
  let t: TestApp;

  beforeAll(async () => {
    [m2mIssuer, sessionIssuer] = await Promise.all([
      TestIssuer.start('keysmith-internal'),
      TestIssuer.start('keysmith-ui'),
    ]);
    // The development key exists in this database (an earlier development start, or dev:token).
    expect((await devToken(suite.db, ['session', 'alice'])).code).toBe(0);
    t = await suite.start(internalEnv(m2mIssuer, sessionIssuer));
  });

  afterAll(async () => {
    await Promise.all([m2mIssuer?.stop(), sessionIssuer?.stop()]);
  });

  it('refuses the development issuer’s tokens on both tiers (401)', async () => {
    const session = (await devToken(suite.db, ['session', 'alice'])).token;
    const m2m = (await devToken(suite.db, ['m2m', 'apikeys:resolve'])).token;
    await request(t.http).get('/api/v1/developer/keys').set('authorization', bearer(session)).expect(401);
    await resolve(t, m2m, 'ks_whatever').expect(401);
    // The real issuer's tokens pass.
    await request(t.http)
      .get('/api/v1/developer/keys')
      .set('authorization', bearer(await sessionIssuer.token({ sub: 'alice' })))
      .expect(200);
    await resolve(t, await m2mToken(m2mIssuer, 'gw', 'apikeys:resolve'), 'ks_whatever').expect(401);
  });

  it('with only one tier configured, the development issuer is not trusted by the other either', async () => {
    const onlySession = await suite.start({
      AUTH_SESSION_JWKS_URI: sessionIssuer.jwksUri,
      AUTH_SESSION_ISSUER: sessionIssuer.url,
      AUTH_SESSION_AUDIENCE: sessionIssuer.audience,
    });
    try {
      const m2m = (await devToken(suite.db, ['m2m', 'apikeys:resolve'])).token;
      await resolve(onlySession, m2m, 'ks_whatever').expect(401);
    } finally {
      await onlySession.close();
    }
  });
});
