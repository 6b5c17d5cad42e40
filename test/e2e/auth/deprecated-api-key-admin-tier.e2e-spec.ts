import request from 'supertest';
import { loadAppConfig } from 'src/app.registrations';
import { ConfigValidationError } from 'src/config/env-reader';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { m2mToken } from 'test/helpers/issuers';
import { provision } from 'test/helpers/factories';

const ORG = 'org-admins';
const UNAUTHORIZED = { error: { type: 'unauthorized', status: 401, message: 'Authentication required.' } };

/**
 * Issue 12, item 3: the deprecated API-key admin tier made any self-service developer an admin (mint a key,
 * present it on admin routes, mint a lasting org token). A key now proves admin rights only when an admin of
 * ORG_ID minted it, and production refuses to start with the tier on.
 */
describe('the deprecated API-key admin tier', () => {
  const suite = e2eSuite();
  let t: TestApp;
  const secrets: string[] = [];
  const TIER_ON = { ADMIN_AUTH_ALLOW_API_KEYS: 'true', ADMIN_BOOTSTRAP_OPEN: 'false' };

  beforeAll(async () => {
    t = await suite.boot({ ...TIER_ON, ORG_ID: ORG });
  });

  afterAll(() => {
    expect(t.logs.leaked(secrets)).toEqual([]);
  });

  /** Mints a key through the settings UI as `sub` with these session claims. */
  const mintKey = async (
    app: TestApp,
    sub: string,
    claims: Record<string, unknown> = {},
  ): Promise<string> => {
    const jwt = await suite.session.token({ sub, ...claims });
    const res = await request(app.http)
      .post('/api/v1/developer/keys')
      .set('authorization', `Bearer ${jwt}`)
      .send({});
    expect(res.status).toBe(201);
    const secret = (res.body as { secret: string }).secret;
    secrets.push(secret);
    return secret;
  };
  const whoami = (app: TestApp, key: string) =>
    request(app.http).get('/api/v1/admin/whoami').set('authorization', `Bearer ${key}`);
  const mintOrgToken = (app: TestApp, key: string) =>
    request(app.http)
      .post('/api/v1/org/tokens')
      .set('authorization', `Bearer ${key}`)
      .send({ name: 'lasting' });

  it('refuses a self-service developer’s key on every admin route: no lasting org token for them', async () => {
    for (const claims of [{}, { org_id: 'org-elsewhere' }]) {
      const key = await mintKey(t, 'self-service-dev', claims);
      await whoami(t, key).expect(401, UNAUTHORIZED);
      await mintOrgToken(t, key).expect(401, UNAUTHORIZED);
      await request(t.http).get('/api/v1/audit-events').set('authorization', `Bearer ${key}`).expect(401);
    }
    expect(await suite.db.query('SELECT 1 FROM org_tokens')).toEqual([]);
  });

  it('accepts a key an admin of ORG_ID minted from a session', async () => {
    const key = await mintKey(t, 'org-admin', { org_id: ORG });
    await whoami(t, key).expect(200, {
      tier: 'api_key',
      actor: `api-key:${key.slice(0, 12)}`,
      scopes: ['admin'],
    });
    const res = await mintOrgToken(t, key).expect(201);
    secrets.push((res.body as { token: string }).token);
  });

  it('refuses a provisioned key, even one of an admin user', async () => {
    const provisioner = await m2mToken(suite.m2m, 'tier-provisioner', 'provision:apikey');
    const { apiKey } = await provision(t.http, provisioner, { externalId: 'org-admin' });
    secrets.push(apiKey);
    await whoami(t, apiKey).expect(401, UNAUTHORIZED);
  });

  it('stops accepting an admin key once ORG_ID names another org, or is unset', async () => {
    const key = await mintKey(t, 'org-admin', { org_id: ORG });
    await whoami(t, key).expect(200);
    const moved = await suite.boot({ ...TIER_ON, ORG_ID: 'org-successor' });
    await whoami(moved, key).expect(401, UNAUTHORIZED);
    const unset = await suite.boot(TIER_ON);
    await whoami(unset, key).expect(401, UNAUTHORIZED);
    // With ORG_ID unset every session is an admin of the UI, but no key it mints is an admin credential.
    const devKey = await mintKey(unset, 'anyone', {});
    await whoami(unset, devKey).expect(401, UNAUTHORIZED);
    await whoami(t, devKey).expect(401, UNAUTHORIZED);
  });

  it('a roll records the rolling session’s admin org, not the old key’s', async () => {
    const sessionOf = (claims: Record<string, unknown>) => suite.session.token({ sub: 'demoted', ...claims });
    const roll = async (claims: Record<string, unknown>, id: string) => {
      const res = await request(t.http)
        .post(`/api/v1/developer/keys/${id}/roll`)
        .set('authorization', `Bearer ${await sessionOf(claims)}`)
        .send({ graceSeconds: 0 })
        .expect(201);
      const body = res.body as { key: { id: string }; secret: string };
      secrets.push(body.secret);
      return body;
    };
    // Minted while an admin of ORG_ID: an admin credential.
    const minted = await request(t.http)
      .post('/api/v1/developer/keys')
      .set('authorization', `Bearer ${await sessionOf({ org_id: ORG })}`)
      .send({})
      .expect(201);
    const { key, secret } = minted.body as { key: { id: string }; secret: string };
    secrets.push(secret);
    await whoami(t, secret).expect(200);
    // Rolled by the same person once no longer an admin of ORG_ID: the successor is no admin credential.
    const demoted = await roll({ org_id: 'org-elsewhere' }, key.id);
    await whoami(t, demoted.secret).expect(401, UNAUTHORIZED);
    // Rolled again by an admin session of ORG_ID: the successor is one again.
    const promoted = await roll({ org_id: ORG }, demoted.key.id);
    await whoami(t, promoted.secret).expect(200);
  });

  it('an org token minted with an admin key is the key owner’s: their offboarding revokes it', async () => {
    const key = await mintKey(t, 'key-owner', { org_id: ORG });
    const res = await mintOrgToken(t, key).expect(201);
    const { id, token } = res.body as { id: string; token: string };
    secrets.push(token);
    expect(await suite.db.query('SELECT created_by, minted_for FROM org_tokens WHERE id = $1', [id])).toEqual(
      [{ created_by: `api-key:${key.slice(0, 12)}`, minted_for: 'session:key-owner' }],
    );
    const [user] = await suite.db.query<{ id: string }>('SELECT id FROM users WHERE external_id = $1', [
      'key-owner',
    ]);
    const admin = await suite.session.token({ sub: 'another-admin', org_id: ORG });
    await request(t.http)
      .post(`/api/v1/admin/users/${user!.id}/disable`)
      .set('authorization', `Bearer ${admin}`)
      .send({ reason: 'left' })
      .expect(200);
    await whoami(t, token).expect(401, UNAUTHORIZED);
  });

  it('refuses to start in production with the tier on, naming the variable', () => {
    let error: unknown;
    try {
      loadAppConfig({ NODE_ENV: 'production', ADMIN_AUTH_ALLOW_API_KEYS: 'true' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    expect((error as ConfigValidationError).problems).toContain(
      'ADMIN_AUTH_ALLOW_API_KEYS=true is refused in production: use org tokens or ADMIN_TOKEN',
    );
    // Off (the default) it is no problem.
    try {
      loadAppConfig({ NODE_ENV: 'production', ADMIN_AUTH_ALLOW_API_KEYS: 'false' });
    } catch (err) {
      expect((err as ConfigValidationError).problems.join('\n')).not.toMatch(/ADMIN_AUTH_ALLOW_API_KEYS/);
    }
  });
});
