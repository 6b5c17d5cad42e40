import { createHash } from 'node:crypto';
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
  targetOriginsOf,
  type StartedLogin,
} from 'test/helpers/oauth';
import { secretsInTables } from 'test/helpers/table-scan';
import { sessionBearer, TestIssuer } from 'test/helpers/issuers';
import { concurrently } from 'test/helpers/waiting';
import { errorShape } from 'test/helpers/http';

const ORIGIN = 'https://keys.example.test';
const sha256 = (s: string, encoding: 'hex' | 'base64' = 'hex'): string =>
  createHash('sha256').update(s, 'utf8').digest(encoding);

interface SessionRow {
  status: string;
  state_hash: string;
  provider_key: Buffer | null;
  enc_key_version: number | null;
  failure_reason: string | null;
  completed_at: Date | null;
  redeemed_at: Date | null;
  ttl: number;
}

describe('provider OAuth handoff', () => {
  const suite = e2eSuite({ issuers: false });
  let issuer: TestIssuer;
  let acme: FakeProvider;
  let nova: FakeProvider;
  let t: TestApp;
  /** Every state and completion code this suite saw: none may reach a log line, an audit row or a table. */
  const states: string[] = [];
  const codes: string[] = [];

  beforeAll(async () => {
    issuer = await TestIssuer.start('keysmith-ui');
    acme = await FakeProvider.start();
    nova = await FakeProvider.start();
    t = await suite.start({
      ...oauthEnv(issuer, [
        acme.entry('acme', 'Acme Billing'),
        nova.entry('nova', 'Nova Pay'),
        nova.entry('dormant', 'Dormant Pay', { enabled: false }),
      ]),
      OAUTH_CALLBACK_ORIGIN: ORIGIN,
    });
  });

  afterAll(async () => {
    await acme?.stop();
    await nova?.stop();
    await issuer?.stop();
  });

  const bearer = (sub: string): Promise<string> => sessionBearer(issuer, sub);
  const start = async (sub: string, slug = 'acme'): Promise<StartedLogin> => {
    const login = await startLogin(t.http, await bearer(sub), slug);
    states.push(new URL(login.authUrl).searchParams.get('state')!);
    return login;
  };
  const row = async (id: string): Promise<SessionRow> => {
    const [r] = await suite.db.query<SessionRow>(
      `SELECT status, state_hash, provider_key, enc_key_version, failure_reason, completed_at, redeemed_at,
              extract(epoch FROM expires_at - created_at)::int AS ttl
         FROM oauth_sessions WHERE id = $1`,
      [id],
    );
    return r!;
  };
  const auditOf = (id: string) =>
    suite.db.query<{ actor: string; action: string; metadata: Record<string, unknown> }>(
      'SELECT actor, action, metadata FROM audit_events WHERE target_id = $1 ORDER BY at, action',
      [id],
    );
  const inlineBlock = (html: string, tag: 'script' | 'style'): string =>
    new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(html)![1]!;

  describe('start', () => {
    it("answers the session, the provider's URL with state and redirect_uri added, and no-store", async () => {
      const res = await request(t.http)
        .post(startPath('acme'))
        .set('authorization', await bearer('alice'));
      expect(res.status).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.body as StartedLogin;
      expect(body).toEqual({
        loginSessionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        authUrl: expect.any(String),
        expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        pollIntervalSeconds: 2,
      });
      const url = new URL(body.authUrl);
      const state = url.searchParams.get('state')!;
      states.push(state);
      expect(`${url.origin}${url.pathname}`).toBe(`${acme.url}/login`);
      // The provider's own query is kept as written; ours is added.
      expect(url.search).toMatch(/^\?client=keysmith&scope=api%20key&state=[A-Za-z0-9_-]{43}&redirect_uri=/);
      expect(url.searchParams.get('redirect_uri')).toBe(`${ORIGIN}/api/v1/auth/providers/acme/callback`);

      // Stored: the state's hash only, pending, for ten minutes.
      const stored = await row(body.loginSessionId);
      expect(stored).toMatchObject({
        status: 'pending',
        state_hash: sha256(state),
        provider_key: null,
        ttl: 600,
      });
      expect(await auditOf(body.loginSessionId)).toEqual([
        {
          actor: 'session:alice',
          action: 'oauth_session.start',
          metadata: expect.objectContaining({ provider: 'acme' }) as unknown,
        },
      ]);
    });

    it('draws a different state for every start', async () => {
      const logins = await concurrently(10, () => start('alice'));
      const drawn = logins.map((l) => new URL(l.authUrl).searchParams.get('state'));
      expect(new Set(drawn).size).toBe(10);
    });

    it.each([
      ['an unknown provider', 'nobody'],
      ['a disabled provider', 'dormant'],
      ['a slug no provider can have', 'Not_A-Slug!'],
    ])('answers 404 for %s, like any missing provider', async (_label, slug) => {
      const res = await request(t.http)
        .post(startPath(slug))
        .set('authorization', await bearer('alice'));
      expect(res.status).toBe(404);
      expect(res.body).toEqual({
        error: { type: 'not_found', status: 404, message: 'Billing provider not found.' },
      });
    });
  });

  describe('callback and result', () => {
    it('completes: a self-closing page under its own CSP, then the key to one poll, then redeemed', async () => {
      const login = await start('alice');
      const alice = await bearer('alice');
      expect((await poll(t.http, alice, 'acme', login.loginSessionId)).body).toEqual({ status: 'pending' });

      const issued = acme.login(login.authUrl);
      const before = acme.exchanges.length;
      const page = await followRedirect(t.http, issued.redirect);
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.headers['cache-control']).toBe('no-store');
      // The URL holds the token and the state: no Referer carries it anywhere.
      expect(page.headers['referrer-policy']).toBe('no-referrer');
      expect(page.headers['x-content-type-options']).toBe('nosniff');
      expect(page.text).toContain('Signed in to Acme Billing');
      expect(page.text).toContain('window.close()');
      // The exchange: once, with the provider's token as a bearer.
      expect(acme.exchanges.slice(before)).toEqual([{ authorization: `Bearer ${issued.token}` }]);

      // The page's CSP allows its one inline script and style by hash, and nothing else.
      const csp = page.headers['content-security-policy'] as string;
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain(`script-src 'sha256-${sha256(inlineBlock(page.text, 'script'), 'base64')}'`);
      expect(csp).toContain(`style-src 'sha256-${sha256(inlineBlock(page.text, 'style'), 'base64')}'`);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      // No external resource of any kind (the JSON data blocks load nothing: the browser never runs them).
      const withoutData = page.text.replace(/<script type="application\/json"[^>]*>[^<]*<\/script>/g, '');
      expect(withoutData).not.toMatch(/\s(src|href|action)=|https?:\/\//);
      // The completion message, for the settings UI origin (by default the callback origin) only.
      const completion = completionOf(page.text);
      expect(completion).toEqual({
        type: 'keysmith:provider-linked',
        loginSessionId: login.loginSessionId,
        completionCode: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      });
      expect(targetOriginsOf(page.text)).toEqual([ORIGIN]);
      // Helmet's same-origin opener policy would cut the tab off from the window that opened it.
      expect(page.headers['cross-origin-opener-policy']).toBe('unsafe-none');

      // Stored encrypted, with its key version; the plaintext is nowhere in the database.
      const stored = await row(login.loginSessionId);
      expect(stored).toMatchObject({ status: 'complete', enc_key_version: 1, redeemed_at: null });
      expect(stored.completed_at).toBeInstanceOf(Date);
      expect(stored.provider_key).toBeInstanceOf(Buffer);
      // The code is stored as its hash only.
      codes.push(completion.completionCode);
      expect(await secretsInTables(suite.db, [issued.apiKey, issued.token, ...states, ...codes])).toEqual([]);
      const [hashed] = await suite.db.query<{ completion_code_hash: string }>(
        'SELECT completion_code_hash FROM oauth_sessions WHERE id = $1',
        [login.loginSessionId],
      );
      expect(hashed!.completion_code_hash).toBe(sha256(completion.completionCode));

      // Without the code, the key stays where it is.
      const unconfirmed = await poll(t.http, alice, 'acme', login.loginSessionId);
      expect(unconfirmed.headers['cache-control']).toBe('no-store');
      expect(unconfirmed.body).toEqual({ status: 'awaiting_confirmation' });

      const first = await poll(t.http, alice, 'acme', login.loginSessionId, completion.completionCode);
      expect(first.status).toBe(200);
      expect(first.headers['cache-control']).toBe('no-store');
      expect(first.body).toEqual({ status: 'complete', apiKey: issued.apiKey });

      const again = await poll(t.http, alice, 'acme', login.loginSessionId, completion.completionCode);
      expect(again.headers['cache-control']).toBe('no-store');
      expect(again.body).toEqual({ status: 'redeemed' });
      // Redeemed: the ciphertext is gone.
      expect(await row(login.loginSessionId)).toMatchObject({
        status: 'redeemed',
        provider_key: null,
        enc_key_version: null,
        redeemed_at: expect.any(Date),
      });

      const audit = await auditOf(login.loginSessionId);
      expect(audit.map((a) => a.action).sort()).toEqual([
        'oauth_session.complete',
        'oauth_session.redeem',
        'oauth_session.start',
      ]);
      const auditText = JSON.stringify(audit);
      for (const secret of [issued.apiKey, issued.token, ...states, ...codes])
        expect(auditText).not.toContain(secret);
    });

    it('twenty concurrent polls with the code: exactly one carries the key', async () => {
      const login = await start('alice');
      const issued = await completeLogin(t.http, acme, login.authUrl);
      codes.push(issued.completionCode);
      const alice = await bearer('alice');
      const answers = await concurrently(20, () =>
        poll(t.http, alice, 'acme', login.loginSessionId, issued.completionCode),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      const withKey = answers.filter((a) => (a.body as { apiKey?: string }).apiKey !== undefined);
      expect(withKey.map((a) => a.body as unknown)).toEqual([{ status: 'complete', apiKey: issued.apiKey }]);
      expect(answers.filter((a) => (a.body as { status: string }).status === 'redeemed')).toHaveLength(19);
      expect(
        await suite.db.query(
          "SELECT 1 FROM audit_events WHERE target_id = $1 AND action = 'oauth_session.redeem'",
          [login.loginSessionId],
        ),
      ).toHaveLength(1);
    });

    it('refuses a replayed callback (400, already used) without calling the provider again', async () => {
      const login = await start('alice');
      const issued = acme.login(login.authUrl);
      const firstPage = await followRedirect(t.http, issued.redirect);
      expect(firstPage.status).toBe(200);
      const { completionCode } = completionOf(firstPage.text);
      const calls = acme.exchanges.length;
      const replay = await followRedirect(t.http, issued.redirect);
      expect(replay.status).toBe(400);
      expect(replay.headers['cache-control']).toBe('no-store');
      expect(replay.text).toContain('already used');
      expect(replay.text).not.toContain('application/json');
      expect(acme.exchanges.length).toBe(calls);
      // The first callback's key is still there for its user.
      const res = await poll(t.http, await bearer('alice'), 'acme', login.loginSessionId, completionCode);
      expect(res.body).toEqual({ status: 'complete', apiKey: issued.apiKey });
      // Redeemed, the link is still refused.
      expect((await followRedirect(t.http, issued.redirect)).status).toBe(400);
    });

    it('two callbacks racing with one state: one exchange, one success, the other "already used"', async () => {
      const login = await start('alice');
      const issued = acme.login(login.authUrl);
      const calls = acme.exchanges.length;
      const pages = await concurrently(2, () => followRedirect(t.http, issued.redirect));
      expect(pages.map((p) => p.status).sort()).toEqual([200, 400]);
      expect(pages.find((p) => p.status === 400)!.text).toContain('already used');
      expect(acme.exchanges.length).toBe(calls + 1);
      const { completionCode } = completionOf(pages.find((p) => p.status === 200)!.text);
      expect(
        (await poll(t.http, await bearer('alice'), 'acme', login.loginSessionId, completionCode)).body,
      ).toEqual({ status: 'complete', apiKey: issued.apiKey });
    });

    it("refuses a state at another provider's callback, and leaves the session to its own provider", async () => {
      const login = await start('alice');
      const issued = acme.login(login.authUrl);
      const wrong = new URL(issued.redirect);
      wrong.pathname = '/api/v1/auth/providers/nova/callback';
      const [acmeCalls, novaCalls] = [acme.exchanges.length, nova.exchanges.length];
      const page = await followRedirect(t.http, wrong);
      expect(page.status).toBe(400);
      expect(page.text).toContain('not recognised');
      expect([acme.exchanges.length, nova.exchanges.length]).toEqual([acmeCalls, novaCalls]);
      expect((await row(login.loginSessionId)).status).toBe('pending');
      expect((await followRedirect(t.http, issued.redirect)).status).toBe(200);
    });

    it('echoes nothing of the URL: <script> in the path and the query never comes back', async () => {
      const evil = '<script>alert(1)</script>';
      const res = await request(t.http).get(
        `/api/v1/auth/providers/${encodeURIComponent(evil)}/callback?state=${encodeURIComponent(evil)}` +
          `&token=${encodeURIComponent(evil)}&x=${encodeURIComponent('"><img src=x onerror=alert(1)>')}`,
      );
      expect(res.status).toBe(400);
      expect(res.headers['content-security-policy']).toContain("default-src 'none'");
      // Nothing of the URL is written at all, escaped or not (issue 16, item 13).
      expect(res.text).not.toContain('alert');
      expect(res.text).not.toContain('<img');
      // The only script is the page's own.
      expect(res.text.match(/<script>/g)).toHaveLength(1);
    });

    it.each([
      ['no state', ''],
      ['an unknown state', `?state=${'A'.repeat(43)}&token=tok_x`],
      ['a state of the wrong shape', '?state=short&token=tok_x'],
      ['a repeated state parameter', `?state=${'A'.repeat(43)}&state=${'B'.repeat(43)}&token=t`],
    ])('answers %s with the 400 page', async (_label, query) => {
      const res = await request(t.http).get(`/api/v1/auth/providers/acme/callback${query}`);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.text).toContain('not recognised');
    });

    it('fails the session when the provider sends the user back without a token', async () => {
      const login = await start('alice');
      const issued = acme.login(login.authUrl);
      issued.redirect.searchParams.delete('token');
      const calls = acme.exchanges.length;
      const page = await followRedirect(t.http, issued.redirect);
      expect(page.status).toBe(400);
      expect(page.text).toContain('without completing the sign-in');
      expect(acme.exchanges.length).toBe(calls);
      expect((await poll(t.http, await bearer('alice'), 'acme', login.loginSessionId)).body).toEqual({
        status: 'failed',
        reason: 'missing_token',
      });
      expect((await auditOf(login.loginSessionId)).map((a) => [a.action, a.metadata.reason])).toEqual([
        ['oauth_session.start', undefined],
        ['oauth_session.fail', 'missing_token'],
      ]);
    });

    it("answers another user's session as 404, exactly like a missing one", async () => {
      const login = await start('alice');
      const bob = await bearer('bob');
      const theirs = await poll(t.http, bob, 'acme', login.loginSessionId);
      const missing = await poll(t.http, bob, 'acme', '00000000-0000-4000-8000-000000000000');
      expect(theirs.status).toBe(404);
      expect(theirs.body).toEqual(missing.body);
      expect(theirs.body).toEqual({
        error: { type: 'not_found', status: 404, message: 'Login session not found.' },
      });
      // The login completed in some browser: Bob, even with the code, gets nothing of Alice's session.
      const issued = acme.login(login.authUrl);
      const page = await followRedirect(t.http, issued.redirect).set('authorization', bob);
      expect(page.status).toBe(200);
      const { completionCode } = completionOf(page.text);
      expect((await poll(t.http, bob, 'acme', login.loginSessionId, completionCode)).status).toBe(404);
      // Under another provider's path, the session is not found either.
      const alice = await bearer('alice');
      expect((await poll(t.http, alice, 'nova', login.loginSessionId, completionCode)).status).toBe(404);
      expect((await poll(t.http, alice, 'acme', login.loginSessionId, completionCode)).body).toEqual({
        status: 'complete',
        apiKey: issued.apiKey,
      });
    });

    it.each([
      ['a malformed id', '/api/v1/auth/providers/acme/result?loginSessionId=not-a-uuid'],
      ['no id', '/api/v1/auth/providers/acme/result'],
      [
        'an unknown parameter',
        '/api/v1/auth/providers/acme/result?loginSessionId=00000000-0000-4000-8000-000000000000&x=1',
      ],
      ['an oversized id', `/api/v1/auth/providers/acme/result?loginSessionId=${'a'.repeat(5000)}`],
      [
        'a repeated completion code',
        '/api/v1/auth/providers/acme/result?loginSessionId=00000000-0000-4000-8000-000000000000&completionCode=a&completionCode=b',
      ],
      [
        'an oversized completion code',
        `/api/v1/auth/providers/acme/result?loginSessionId=00000000-0000-4000-8000-000000000000&completionCode=${'a'.repeat(129)}`,
      ],
      [
        'a repeated id',
        '/api/v1/auth/providers/acme/result?loginSessionId=00000000-0000-4000-8000-000000000000&loginSessionId=00000000-0000-4000-8000-000000000000',
      ],
    ])('refuses %s with 400 validation_failed', async (_label, path) => {
      const res = await request(t.http)
        .get(path)
        .set('authorization', await bearer('alice'));
      expect(res.status).toBe(400);
      expect(res.body).toEqual(errorShape('validation_failed', 400));
      expect(res.headers['cache-control']).toBe('no-store');
    });
  });

  describe('disabled users', () => {
    it('cannot start; one disabled after starting cannot complete nor poll', async () => {
      const login = await start('carol');
      await suite.db.query("UPDATE users SET disabled_at = now() WHERE external_id = 'carol'");
      const carol = await bearer('carol');

      const refused = await request(t.http).post(startPath('acme')).set('authorization', carol);
      expect(refused.status).toBe(403);
      expect(refused.body).toEqual(errorShape('identity_not_allowed', 403));

      const issued = acme.login(login.authUrl);
      const calls = acme.exchanges.length;
      const page = await followRedirect(t.http, issued.redirect);
      expect(page.status).toBe(403);
      expect(page.text).toContain('Account disabled');
      expect(acme.exchanges.length).toBe(calls);
      expect(await row(login.loginSessionId)).toMatchObject({
        status: 'failed',
        failure_reason: 'identity_not_allowed',
      });

      const polled = await poll(t.http, carol, 'acme', login.loginSessionId);
      expect(polled.status).toBe(403);
      expect(polled.body).toEqual(errorShape('identity_not_allowed', 403));
    });
  });

  it('never logs nor stores in the clear a provider key, a provider token, a state or a completion code', async () => {
    const secrets = [...acme.secrets(), ...nova.secrets(), ...states, ...codes];
    expect(secrets.length).toBeGreaterThan(20);
    expect(t.logs.leaked(secrets)).toEqual([]);
    expect(await secretsInTables(suite.db, secrets)).toEqual([]);
    // The request log keeps the callback's path, never its query.
    const callbackLines = t.logs.lines.filter((l) => l.includes('/callback'));
    expect(callbackLines.length).toBeGreaterThan(0);
    for (const line of callbackLines) expect(line).not.toMatch(/callback\?/);
  });
});
