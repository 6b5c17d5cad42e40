import type request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { depositCredential, requestAccessToken, type AccessTokenAnswer } from 'test/helpers/credentials';
import { errorShape } from 'test/helpers/http';
import { m2mToken, sessionBearer } from 'test/helpers/issuers';
import { HangingTokenServer, TestTokenServer } from 'test/helpers/token-server';
import { eventually } from 'test/helpers/waiting';

const ENCRYPTION_KEY = 'e2e-fairness-master-secret-0123456789abcd';
const PER_USER = 2;
const PER_HOST = 3;
/** Polls for conditions on a loaded machine: 2,000 × 25 ms at most. */
const PATIENCE = 2000;

/**
 * Issue 16, item 2: one user's hanging token endpoints must not starve anyone else's refreshes. Mallory
 * deposits twenty credentials at an endpoint that never answers and hammers them; Trent has a few more at
 * the same endpoint; Bob's credential sits at a healthy token server. Bob is served while Mallory's and
 * Trent's refreshes are still hanging: shown by the order of events, not by a clock.
 */
describe('credentials: fair refresh slots', () => {
  const suite = e2eSuite();
  let t: TestApp;
  let hanging: HangingTokenServer;
  let healthy: TestTokenServer;
  let runtime: string;

  beforeAll(async () => {
    hanging = await HangingTokenServer.start();
    healthy = await TestTokenServer.start();
    t = await suite.boot({
      ENCRYPTION_KEY,
      // Longer than the test: the hanging refreshes end only when the hanging server is stopped.
      CREDENTIALS_REFRESH_TIMEOUT_MS: '60000',
      CREDENTIALS_MAX_CONCURRENT_REFRESHES: '5',
      CREDENTIALS_MAX_REFRESHES_PER_USER: String(PER_USER),
      CREDENTIALS_MAX_REFRESHES_PER_HOST: String(PER_HOST),
    });
    runtime = await m2mToken(suite.m2m, 'mcp-runtime', 'credentials:use');
  });

  afterAll(async () => {
    await healthy?.stop();
  });

  const userIdOf = async (sub: string): Promise<string> =>
    (await suite.db.query<{ id: string }>('SELECT id FROM users WHERE external_id = $1', [sub]))[0]!.id;

  async function depositMany(sub: string, count: number, tokenEndpoint: string): Promise<string> {
    const bearer = await sessionBearer(suite.session, sub);
    for (let i = 0; i < count; i++)
      await depositCredential(t.http, bearer, {
        mcpServerId: `srv-${i}`,
        refreshToken: `rt-${sub}-${i}`,
        tokenEndpoint,
      });
    return userIdOf(sub);
  }

  /** Starts a call and records when it settles, without waiting for it. */
  function start(userId: string, mcpServerId: string) {
    const call = {
      settled: false,
      res: undefined as request.Response | undefined,
      done: undefined as unknown as Promise<void>,
    };
    call.done = requestAccessToken(t.http, runtime, { userId, mcpServerId }).then((res) => {
      call.res = res;
      call.settled = true;
    });
    return call;
  }

  it('serves another user’s refresh while one user’s twenty hanging endpoints are hammered', async () => {
    const mallory = await depositMany('mallory', 20, hanging.tokenEndpoint);
    const trent = await depositMany('trent', 3, hanging.tokenEndpoint);
    await depositCredential(t.http, await sessionBearer(suite.session, 'bob'), {
      mcpServerId: 'healthy',
      refreshToken: healthy.grant(),
      tokenEndpoint: healthy.tokenEndpoint,
    });
    const bobId = await userIdOf('bob');

    try {
      await hammer(mallory, trent, bobId);
    } finally {
      // Drops the held requests, so no refresh outlives the test.
      await hanging.stop();
    }
  });

  async function hammer(mallory: string, trent: string, bobId: string): Promise<void> {
    // Three concurrent callers for each of Mallory's twenty credentials, then Trent's three.
    const malloryCalls = Array.from({ length: 60 }, (_, i) => start(mallory, `srv-${i % 20}`));
    await eventually(() => hanging.received === PER_USER, PATIENCE);
    const trentCalls = Array.from({ length: 3 }, (_, i) => start(trent, `srv-${i}`));
    await eventually(() => hanging.received === PER_HOST, PATIENCE);

    // Everything beyond the shares was answered at once, 503 with Retry-After; the rest is still hanging.
    const hangingCallers = 3 * PER_USER + (PER_HOST - PER_USER);
    await eventually(
      () => [...malloryCalls, ...trentCalls].filter((c) => c.settled).length === 63 - hangingCallers,
      PATIENCE,
    );
    for (const c of [...malloryCalls, ...trentCalls].filter((x) => x.settled)) {
      expect(c.res!.status).toBe(503);
      expect(c.res!.body).toEqual(errorShape('service_unavailable', 503));
      expect(c.res!.headers['retry-after']).toMatch(/^\d+$/);
    }
    const messages = new Set(
      [...malloryCalls, ...trentCalls]
        .filter((c) => c.settled)
        .map((c) => (c.res!.body as { error: { message: string } }).error.message),
    );
    expect([...messages].sort()).toEqual([
      expect.stringMatching(/this token endpoint’s host/),
      expect.stringMatching(/this user/),
    ]);

    // Bob's refresh runs beside them and is answered while theirs still hang.
    const bobRes = await requestAccessToken(t.http, runtime, { userId: bobId, mcpServerId: 'healthy' });
    expect(bobRes.status).toBe(200);
    expect((bobRes.body as AccessTokenAnswer).tokenType).toBe('Bearer');
    expect(hanging.open).toBe(PER_HOST);
    expect([...malloryCalls, ...trentCalls].filter((c) => !c.settled)).toHaveLength(hangingCallers);

    // Single flight held: each hanging credential was called once, however many callers it had.
    expect(hanging.received).toBe(PER_HOST);

    // When the endpoint drops them, the hanging refreshes fail as upstream failures.
    await hanging.stop();
    await Promise.all([...malloryCalls, ...trentCalls].map((c) => c.done));
    const failed = [...malloryCalls, ...trentCalls].filter((c) => c.res!.status === 502);
    expect(failed).toHaveLength(hangingCallers);
    for (const c of failed)
      expect(c.res!.body).toEqual({
        error: expect.objectContaining({ type: 'upstream_failed', reason: 'provider_unavailable' }),
      });
  }
});
