import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { FakeProvider } from 'test/helpers/fake-provider';
import {
  completeLogin,
  completionOf,
  followRedirect,
  oauthEnv,
  poll,
  startLogin,
  startPath,
  TEST_ENCRYPTION_KEY,
} from 'test/helpers/oauth';
import { sessionBearer, TestIssuer } from 'test/helpers/issuers';
import { concurrently } from 'test/helpers/waiting';
import { errorShape } from 'test/helpers/http';

/** Instances behind a load balancer share nothing but the database: any instance serves any step. */
describe('provider OAuth handoff: several instances on one database', () => {
  const suite = e2eSuite({ issuers: false });
  let issuer: TestIssuer;
  let acme: FakeProvider;
  let a: TestApp;
  let b: TestApp;
  /** An instance without ENCRYPTION_KEY (misconfigured). */
  let keyless: TestApp;

  beforeAll(async () => {
    issuer = await TestIssuer.start('keysmith-ui');
    acme = await FakeProvider.start();
    const env = oauthEnv(issuer, [acme.entry('acme', 'Acme Billing')]);
    a = await suite.start(env);
    b = await suite.start(env);
    keyless = await suite.start({ ...env, ENCRYPTION_KEY: '' });
  });

  afterAll(async () => {
    for (const app of [keyless, b, a]) await app?.close();
    await acme?.stop();
    await issuer?.stop();
  });

  const bearer = (): Promise<string> => sessionBearer(issuer, 'frank');

  it('starts on one, takes the callback on the other, and answers the poll on either, once', async () => {
    const frank = await bearer();
    const login = await startLogin(a.http, frank, 'acme');
    expect((await poll(b.http, frank, 'acme', login.loginSessionId)).body).toEqual({ status: 'pending' });
    const issued = acme.login(login.authUrl);
    const page = await followRedirect(b.http, issued.redirect);
    expect(page.status).toBe(200);
    const { completionCode } = completionOf(page.text);
    // A replay on the first instance is refused too.
    expect((await followRedirect(a.http, issued.redirect)).status).toBe(400);
    expect((await poll(a.http, frank, 'acme', login.loginSessionId)).body).toEqual({
      status: 'awaiting_confirmation',
    });
    expect((await poll(a.http, frank, 'acme', login.loginSessionId, completionCode)).body).toEqual({
      status: 'complete',
      apiKey: issued.apiKey,
    });
    expect((await poll(b.http, frank, 'acme', login.loginSessionId, completionCode)).body).toEqual({
      status: 'redeemed',
    });
  });

  it('twenty concurrent polls spread over both instances: exactly one carries the key', async () => {
    const frank = await bearer();
    const login = await startLogin(b.http, frank, 'acme');
    const issued = await completeLogin(a.http, acme, login.authUrl);
    const answers = await concurrently(20, (i) =>
      poll(i % 2 ? a.http : b.http, frank, 'acme', login.loginSessionId, issued.completionCode),
    );
    const bodies = answers.map((r) => r.body as { status: string; apiKey?: string });
    expect(bodies.filter((x) => x.apiKey === issued.apiKey)).toHaveLength(1);
    expect(bodies.filter((x) => x.status === 'redeemed')).toHaveLength(19);
  });

  it('two callbacks racing on two instances: one exchange, one success', async () => {
    const frank = await bearer();
    const login = await startLogin(a.http, frank, 'acme');
    const issued = acme.login(login.authUrl);
    const calls = acme.exchanges.length;
    const pages = await Promise.all([
      followRedirect(a.http, issued.redirect),
      followRedirect(b.http, issued.redirect),
    ]);
    expect(pages.map((p) => p.status).sort()).toEqual([200, 400]);
    expect(acme.exchanges.length).toBe(calls + 1);
  });

  describe('an instance without an encryption key', () => {
    it('refuses a start with 503 encryption_key_missing and stores nothing', async () => {
      const before = await suite.db.query('SELECT id FROM oauth_sessions');
      const res = await request(keyless.http)
        .post(startPath('acme'))
        .set('authorization', await bearer());
      expect(res.status).toBe(503);
      expect(res.body).toEqual(errorShape('encryption_key_missing', 503));
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(await suite.db.query('SELECT id FROM oauth_sessions')).toEqual(before);
    });

    it('answers a callback with a 503 page and consumes nothing: the link then works elsewhere', async () => {
      const frank = await bearer();
      const login = await startLogin(a.http, frank, 'acme');
      const issued = acme.login(login.authUrl);
      const calls = acme.exchanges.length;
      const page = await followRedirect(keyless.http, issued.redirect);
      expect(page.status).toBe(503);
      expect(page.text).toContain('Reload this page');
      expect(acme.exchanges.length).toBe(calls);
      expect((await poll(a.http, frank, 'acme', login.loginSessionId)).body).toEqual({ status: 'pending' });
      expect((await followRedirect(b.http, issued.redirect)).status).toBe(200);
    });

    it('answers a poll of a complete session with 503 and keeps the key for an instance that can read it', async () => {
      const frank = await bearer();
      const login = await startLogin(a.http, frank, 'acme');
      const issued = await completeLogin(a.http, acme, login.authUrl);
      const refused = await poll(keyless.http, frank, 'acme', login.loginSessionId, issued.completionCode);
      expect(refused.status).toBe(503);
      expect(refused.body).toEqual(errorShape('encryption_key_missing', 503));
      expect((await poll(b.http, frank, 'acme', login.loginSessionId, issued.completionCode)).body).toEqual({
        status: 'complete',
        apiKey: issued.apiKey,
      });
    });
  });

  it('a key written under a version this instance lacks: 503, and the key stays for one that has it', async () => {
    const frank = await bearer();
    const rotated = await suite.start({
      ...oauthEnv(issuer, [acme.entry('acme', 'Acme Billing')]),
      ENCRYPTION_KEY: '',
      // Version 1 keeps the secret the other instances have (a different one would refuse to start).
      ENCRYPTION_KEYS: `1:${TEST_ENCRYPTION_KEY},2:${'y'.repeat(40)}`,
    });
    try {
      const login = await startLogin(rotated.http, frank, 'acme');
      const issued = await completeLogin(rotated.http, acme, login.authUrl);
      const [row] = await suite.db.query<{ enc_key_version: number }>(
        'SELECT enc_key_version FROM oauth_sessions WHERE id = $1',
        [login.loginSessionId],
      );
      expect(row!.enc_key_version).toBe(2);
      // `a` knows version 1 only: the redemption rolls back.
      expect((await poll(a.http, frank, 'acme', login.loginSessionId, issued.completionCode)).status).toBe(
        503,
      );
      expect(
        (await poll(rotated.http, frank, 'acme', login.loginSessionId, issued.completionCode)).body,
      ).toEqual({
        status: 'complete',
        apiKey: issued.apiKey,
      });
    } finally {
      await rotated.close();
    }
  });

  it('a key this instance cannot decrypt (wrong secret, tampered, moved) is never erased: 503, row intact', async () => {
    const frank = await bearer();
    const first = await startLogin(a.http, frank, 'acme');
    const one = await completeLogin(a.http, acme, first.authUrl);
    const second = await startLogin(a.http, frank, 'acme');
    const two = await completeLogin(a.http, acme, second.authUrl);
    const keyOf = async (id: string) =>
      (
        await suite.db.query<{ provider_key: Buffer; status: string; completion_attempts: number }>(
          'SELECT provider_key, status, completion_attempts FROM oauth_sessions WHERE id = $1',
          [id],
        )
      )[0]!;
    const original = (await keyOf(first.loginSessionId)).provider_key;
    // The first session now holds a ciphertext that does not authenticate under its row: what an instance
    // sees whose secret for this version differs from the writer's.
    await suite.db.query('UPDATE oauth_sessions SET provider_key = $2 WHERE id = $1', [
      first.loginSessionId,
      (await keyOf(second.loginSessionId)).provider_key,
    ]);
    const moved = (await keyOf(first.loginSessionId)).provider_key;
    for (const instance of [a, b]) {
      const res = await poll(instance.http, frank, 'acme', first.loginSessionId, one.completionCode);
      expect(res.status).toBe(503);
      expect(res.body).toEqual(errorShape('encryption_key_missing', 503));
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
    // Nothing erased, nothing failed, no wrong code counted.
    expect(await keyOf(first.loginSessionId)).toEqual({
      provider_key: moved,
      status: 'complete',
      completion_attempts: 0,
    });
    // Once an instance can read it (here: the right bytes back), the key is there for its user.
    await suite.db.query('UPDATE oauth_sessions SET provider_key = $2 WHERE id = $1', [
      first.loginSessionId,
      original,
    ]);
    expect((await poll(b.http, frank, 'acme', first.loginSessionId, one.completionCode)).body).toEqual({
      status: 'complete',
      apiKey: one.apiKey,
    });
    expect((await poll(a.http, frank, 'acme', second.loginSessionId, two.completionCode)).body).toEqual({
      status: 'complete',
      apiKey: two.apiKey,
    });
    expect(a.logs.leaked([one.apiKey, two.apiKey, one.completionCode, two.completionCode])).toEqual([]);
  });

  it('no instance logged a key or a token', () => {
    expect(a.logs.leaked(acme.secrets())).toEqual([]);
  });
});
