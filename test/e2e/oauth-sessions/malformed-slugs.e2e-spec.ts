import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { FakeProvider } from 'test/helpers/fake-provider';
import { fullEnv } from 'test/helpers/full-app';

/** Regressions for what the fuzzer (test/e2e/fuzz.e2e-spec.ts) found, each as a plain example. */
describe('the provider handoff: malformed slugs (found by the fuzzer)', () => {
  const suite = e2eSuite();
  let t: TestApp;
  let provider: FakeProvider;
  let session: string;

  beforeAll(async () => {
    provider = await FakeProvider.start();
    t = await suite.boot(
      fullEnv(suite.m2m, suite.session, {
        BILLING_PROVIDERS: JSON.stringify([provider.entry('acme', 'Acme')]),
      }),
    );
    session = `Bearer ${await suite.session.token({ sub: 'fuzz-findings' })}`;
  });

  afterAll(async () => {
    expect(t.logs.leaked(provider.secrets())).toEqual([]);
    await provider?.stop();
  });

  const errorLines = (from: number): string[] =>
    t.logs.lines.slice(from).filter((l) => (JSON.parse(l) as { level: number }).level >= 50);

  it('a provider callback whose slug is not a slug (a NUL) is the unknown-state page, not a 503 and an error log', async () => {
    const started = await request(t.http)
      .post('/api/v1/auth/providers/acme/start')
      .set('authorization', session)
      .expect(201);
    const login = provider.login((started.body as { authUrl: string }).authUrl);
    const from = t.logs.lines.length;
    for (const slug of ['%00', 'a%00b', 'ACME', `-${'a'.repeat(70)}`]) {
      const res = await request(t.http).get(
        `/api/v1/auth/providers/${slug}/callback${login.redirect.search}`,
      );
      expect({ slug, status: res.status }).toEqual({ slug, status: 400 });
      expect(res.headers['content-type']).toMatch(/^text\/html/);
    }
    expect(errorLines(from)).toEqual([]);
    // The state was not used up: the right provider's callback still completes.
    await request(t.http).get(`/api/v1/auth/providers/acme/callback${login.redirect.search}`).expect(200);
  });

  it('a poll whose slug is not a slug is the 404 of an unknown session', async () => {
    const started = await request(t.http)
      .post('/api/v1/auth/providers/acme/start')
      .set('authorization', session)
      .expect(201);
    const { loginSessionId } = started.body as { loginSessionId: string };
    const res = await request(t.http)
      .get(`/api/v1/auth/providers/%00/result?loginSessionId=${loginSessionId}`)
      .set('authorization', session);
    expect({ status: res.status, type: (res.body as { error: { type: string } }).error.type }).toEqual({
      status: 404,
      type: 'not_found',
    });
  });
});
