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
  type StartedLogin,
} from 'test/helpers/oauth';
import { sessionBearer, TestIssuer } from 'test/helpers/issuers';
import { secretsInTables } from 'test/helpers/table-scan';
import { concurrently } from 'test/helpers/waiting';
import { errorShape } from 'test/helpers/http';

const WRONG = (i: number): string => `wrong-code-${i}-${'x'.repeat(30)}`;

/**
 * Issue 16, item 1: a provider key stolen with a link. The starter sends the `authUrl` to someone else, who
 * logs in at the provider; the callback completes in that person's browser, where no settings UI window of
 * the starter's is the opener. The key is released only with the completion code the success page hands to
 * that opener, so the starter's poll never gets it.
 */
describe('provider OAuth handoff: the completion code', () => {
  const suite = e2eSuite({ issuers: false });
  let issuer: TestIssuer;
  let acme: FakeProvider;
  let t: TestApp;
  const codes: string[] = [];

  beforeAll(async () => {
    issuer = await TestIssuer.start('keysmith-ui');
    acme = await FakeProvider.start();
    t = await suite.start(oauthEnv(issuer, [acme.entry('acme', 'Acme Billing')]));
  });

  afterAll(async () => {
    await acme?.stop();
    await issuer?.stop();
  });

  const bearer = (sub: string): Promise<string> => sessionBearer(issuer, sub);
  const row = async (id: string) =>
    (
      await suite.db.query<{ status: string; failure_reason: string | null; provider_key: Buffer | null }>(
        'SELECT status, failure_reason, provider_key FROM oauth_sessions WHERE id = $1',
        [id],
      )
    )[0]!;

  /** The starter's login, completed by the victim in a tab with no opener (plain HTTP here). */
  async function stolenLink(): Promise<{
    login: StartedLogin;
    starter: string;
    apiKey: string;
    code: string;
  }> {
    const starter = await bearer('mallory');
    const login = await startLogin(t.http, starter, 'acme');
    const victim = await completeLogin(t.http, acme, login.authUrl);
    codes.push(victim.completionCode);
    return { login, starter, apiKey: victim.apiKey, code: victim.completionCode };
  }

  it("a link completed by someone else: the starter's poll only ever says awaiting_confirmation", async () => {
    const { login, starter, apiKey } = await stolenLink();
    for (let i = 0; i < 3; i++) {
      const res = await poll(t.http, starter, 'acme', login.loginSessionId);
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({ status: 'awaiting_confirmation' });
    }
    // An empty code is no code.
    expect((await poll(t.http, starter, 'acme', login.loginSessionId, '')).body).toEqual({
      status: 'awaiting_confirmation',
    });
    expect((await row(login.loginSessionId)).provider_key).toBeInstanceOf(Buffer);
    expect(t.logs.leaked([apiKey])).toEqual([]);
  });

  it('five wrong codes fail the session and erase the key; the right code afterwards gets nothing', async () => {
    const { login, starter, code, apiKey } = await stolenLink();
    const answers = [];
    for (let i = 0; i < 5; i++)
      answers.push((await poll(t.http, starter, 'acme', login.loginSessionId, WRONG(i))).body as unknown);
    expect(answers).toEqual([
      { status: 'awaiting_confirmation' },
      { status: 'awaiting_confirmation' },
      { status: 'awaiting_confirmation' },
      { status: 'awaiting_confirmation' },
      { status: 'failed', reason: 'completion_code_rejected' },
    ]);
    expect(await row(login.loginSessionId)).toEqual({
      status: 'failed',
      failure_reason: 'completion_code_rejected',
      provider_key: null,
    });
    expect((await poll(t.http, starter, 'acme', login.loginSessionId, code)).body).toEqual({
      status: 'failed',
      reason: 'completion_code_rejected',
    });
    const audit = await suite.db.query<{ action: string; metadata: Record<string, unknown> }>(
      'SELECT action, metadata FROM audit_events WHERE target_id = $1 ORDER BY at, action',
      [login.loginSessionId],
    );
    expect(audit.map((a) => [a.action, a.metadata.reason])).toEqual([
      ['oauth_session.start', undefined],
      ['oauth_session.complete', undefined],
      ['oauth_session.fail', 'completion_code_rejected'],
    ]);
    expect(await secretsInTables(suite.db, [apiKey, code])).toEqual([]);
  });

  it('wrong codes are counted atomically: twelve concurrent ones and the right one, no key comes out', async () => {
    const { login, starter, code } = await stolenLink();
    const answers = await concurrently(12, (i) =>
      poll(t.http, starter, 'acme', login.loginSessionId, WRONG(i)),
    );
    const bodies = answers.map((a) => a.body as { status: string });
    expect(bodies.filter((b) => b.status === 'awaiting_confirmation')).toHaveLength(4);
    expect(bodies.filter((b) => b.status === 'failed')).toHaveLength(8);
    expect((await poll(t.http, starter, 'acme', login.loginSessionId, code)).body).toMatchObject({
      status: 'failed',
    });
    const [{ completion_attempts }] = (await suite.db.query<{ completion_attempts: number }>(
      'SELECT completion_attempts FROM oauth_sessions WHERE id = $1',
      [login.loginSessionId],
    )) as [{ completion_attempts: number }];
    expect(completion_attempts).toBe(5);
  });

  it('four wrong codes still leave the right one its key, exactly once, to concurrent polls', async () => {
    const { login, starter, code, apiKey } = await stolenLink();
    for (let i = 0; i < 4; i++)
      expect((await poll(t.http, starter, 'acme', login.loginSessionId, WRONG(i))).body).toEqual({
        status: 'awaiting_confirmation',
      });
    const answers = await concurrently(10, () => poll(t.http, starter, 'acme', login.loginSessionId, code));
    const bodies = answers.map((a) => a.body as { status: string; apiKey?: string });
    expect(bodies.filter((b) => b.apiKey !== undefined)).toEqual([{ status: 'complete', apiKey }]);
    expect(bodies.filter((b) => b.status === 'redeemed')).toHaveLength(9);
  });

  it("another session's code does not open this one", async () => {
    const a = await stolenLink();
    const b = await stolenLink();
    expect((await poll(t.http, a.starter, 'acme', a.login.loginSessionId, b.code)).body).toEqual({
      status: 'awaiting_confirmation',
    });
  });

  describe('methods other than GET on the callback never run the exchange nor use up the state', () => {
    it('HEAD: 405 with Allow: GET, nothing exchanged; the link then works', async () => {
      const login = await startLogin(t.http, await bearer('olga'), 'acme');
      const issued = acme.login(login.authUrl);
      const calls = acme.exchanges.length;
      const head = await request(t.http).head(`${issued.redirect.pathname}${issued.redirect.search}`);
      expect(head.status).toBe(405);
      expect(head.headers.allow).toBe('GET');
      expect(acme.exchanges.length).toBe(calls);
      expect((await row(login.loginSessionId)).status).toBe('pending');
      const page = await followRedirect(t.http, issued.redirect);
      expect(page.status).toBe(200);
      codes.push(completionOf(page.text).completionCode);
    });

    it.each(['post', 'put', 'patch', 'delete', 'options'] as const)(
      '%s: nothing runs; the link then works',
      async (method) => {
        const login = await startLogin(t.http, await bearer('olga'), 'acme');
        const issued = acme.login(login.authUrl);
        const calls = acme.exchanges.length;
        const res = await request(t.http)[method](`${issued.redirect.pathname}${issued.redirect.search}`);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.text).not.toContain('Signed in');
        expect(acme.exchanges.length).toBe(calls);
        expect((await row(login.loginSessionId)).status).toBe('pending');
        const page = await followRedirect(t.http, issued.redirect);
        expect(page.status).toBe(200);
        codes.push(completionOf(page.text).completionCode);
      },
    );
  });

  it('the failure page writes nothing of the URL: an unknown provider slug reads as "the provider"', async () => {
    const slug = 'totally-legit-bank-call-us';
    const res = await request(t.http).get(`/api/v1/auth/providers/${slug}/callback?state=${'A'.repeat(43)}`);
    expect(res.status).toBe(400);
    expect(res.text).not.toContain('totally');
    expect(res.text).not.toContain('legit');
  });

  it('never logs nor stores a completion code', async () => {
    expect(codes.length).toBeGreaterThan(5);
    expect(t.logs.leaked([...codes, ...acme.secrets()])).toEqual([]);
    expect(await secretsInTables(suite.db, codes)).toEqual([]);
  });
});

describe('provider OAuth handoff: the callback limit', () => {
  const suite = e2eSuite({ issuers: false });
  let issuer: TestIssuer;
  let t: TestApp;

  beforeAll(async () => {
    issuer = await TestIssuer.start('keysmith-ui');
    t = await suite.start({
      ...oauthEnv(issuer, []),
      TRUST_PROXY: 'loopback',
      RATE_LIMIT_OAUTH_CALLBACK: '3/60s',
    });
  });

  afterAll(async () => {
    await issuer?.stop();
  });

  it('limits the public callback per client IP (oauth-callback), each address on its own', async () => {
    const hit = (ip: string) =>
      request(t.http)
        .get(`/api/v1/auth/providers/acme/callback?state=${'A'.repeat(43)}&token=t`)
        .set('x-forwarded-for', ip);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await hit('198.51.100.7')).status);
    expect(statuses).toEqual([400, 400, 400, 429]);
    const refused = await hit('198.51.100.7');
    expect(refused.body).toEqual(errorShape('rate_limited', 429));
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await hit('198.51.100.8')).status).toBe(400);
  });
});
