import { e2eSuite, type TestApp } from 'test/helpers/app';
import { FakeProvider, type FakeProviderMode } from 'test/helpers/fake-provider';
import { followRedirect, oauthEnv, poll, startLogin, completionOf } from 'test/helpers/oauth';
import { secretsInTables } from 'test/helpers/table-scan';
import { sessionBearer, TestIssuer } from 'test/helpers/issuers';

/** The exchange with the provider failing every way it can: each fails the session, with a 502 page. */
describe('provider OAuth handoff: a failing exchange', () => {
  const suite = e2eSuite({ issuers: false });
  let issuer: TestIssuer;
  let acme: FakeProvider;
  let gone: FakeProvider;
  let t: TestApp;
  const states: string[] = [];

  beforeAll(async () => {
    issuer = await TestIssuer.start('keysmith-ui');
    acme = await FakeProvider.start();
    // A provider whose server is down: its port refuses connections.
    gone = await FakeProvider.start();
    await gone.stop();
    t = await suite.start({
      ...oauthEnv(issuer, [
        acme.entry('acme', 'Acme Billing'),
        gone.entry('gone', 'Gone Pay'),
        // The provider's API behind 0.0.0.0, which reaches this machine: the review's finding (issue 16,
        // item 13). Without the outbound policy the exchange lands on acme's server with the user's token.
        acme.entry('zero', 'Zero Pay', { apiBase: acme.apiBase.replace('127.0.0.1', '0.0.0.0') }),
      ]),
      OAUTH_EXCHANGE_TIMEOUT_MS: '1000',
    });
  });

  afterEach(() => {
    acme.mode = 'normal';
  });

  afterAll(async () => {
    await acme?.stop();
    await issuer?.stop();
  });

  const auditFail = (id: string) =>
    suite.db.query<{ metadata: Record<string, unknown> }>(
      "SELECT metadata FROM audit_events WHERE target_id = $1 AND action = 'oauth_session.fail'",
      [id],
    );

  async function failWith(provider: FakeProvider, slug: string) {
    const bearer = await sessionBearer(issuer, 'dana');
    const login = await startLogin(t.http, bearer, slug);
    states.push(new URL(login.authUrl).searchParams.get('state')!);
    const issued = provider.login(login.authUrl);
    const page = await followRedirect(t.http, issued.redirect);
    const code = page.status === 200 ? completionOf(page.text).completionCode : undefined;
    const result = await poll(t.http, bearer, slug, login.loginSessionId, code);
    return { login, issued, page, result };
  }

  it.each<[FakeProviderMode, string, number | null]>([
    ['hang', 'provider_timeout', null],
    ['error', 'provider_rejected', 500],
    ['garbage', 'provider_invalid_response', 200],
    ['oversized', 'provider_invalid_response', 200],
  ])(
    'a provider that answers "%s" fails the session (%s) with a 502 page',
    async (mode, reason, httpStatus) => {
      acme.mode = mode;
      const calls = acme.exchanges.length;
      const { login, issued, page, result } = await failWith(acme, 'acme');
      expect(page.status).toBe(502);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.headers['cache-control']).toBe('no-store');
      expect(page.text).toContain('did not hand over your API key');
      expect(page.text).toContain('start linking the provider again');
      expect(acme.exchanges.length).toBe(calls + 1);
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ status: 'failed', reason });

      const [row] = await suite.db.query(
        'SELECT status, failure_reason, provider_key FROM oauth_sessions WHERE id = $1',
        [login.loginSessionId],
      );
      expect(row).toEqual({ status: 'failed', failure_reason: reason, provider_key: null });
      expect((await auditFail(login.loginSessionId)).map((a) => a.metadata)).toEqual([
        expect.objectContaining({ reason, httpStatus }),
      ]);

      // A failed state is used up: the same link is refused without another exchange.
      acme.mode = 'normal';
      const replay = await followRedirect(t.http, issued.redirect);
      expect(replay.status).toBe(400);
      expect(acme.exchanges.length).toBe(calls + 1);
    },
  );

  it('a provider that cannot be reached fails the session (provider_unreachable)', async () => {
    const { page, result } = await failWith(gone, 'gone');
    expect(page.status).toBe(502);
    expect(result.body).toEqual({ status: 'failed', reason: 'provider_unreachable' });
  });

  it('a provider API the outbound policy refuses (0.0.0.0) gets nothing: provider_address_refused', async () => {
    const calls = acme.exchanges.length;
    const { page, result } = await failWith(acme, 'zero');
    expect(page.status).toBe(502);
    expect(result.body).toEqual({ status: 'failed', reason: 'provider_address_refused' });
    expect(acme.exchanges.length).toBe(calls);
  });

  it('after a failure, a new login works', async () => {
    const { page, result, issued } = await failWith(acme, 'acme');
    expect(page.status).toBe(200);
    expect(result.body).toEqual({ status: 'complete', apiKey: issued.apiKey });
  });

  it('logs why, and never the token, the state or a key', async () => {
    const warnings = t.logs.lines.filter((l) => l.includes('provider exchange failed'));
    expect(warnings).toHaveLength(6);
    for (const reason of [
      'provider_address_refused',
      'provider_timeout',
      'provider_rejected',
      'provider_invalid_response',
      'provider_unreachable',
    ])
      expect(warnings.join('\n')).toContain(reason);
    const secrets = [...acme.secrets(), ...gone.secrets(), ...states, 'pk_live_oversized'];
    expect(t.logs.leaked(secrets)).toEqual([]);
    expect(await secretsInTables(suite.db, secrets)).toEqual([]);
  });
});
